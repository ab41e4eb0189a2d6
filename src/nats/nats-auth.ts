/**
 * How jetsaga authenticates to NATS and encrypts the connection: a JWT `.creds` file, an nkey
 * seed file, a user and password, or a token, and TLS (a CA to trust, and a client certificate
 * for servers that verify clients). Files are read here, once, so that a missing or unreadable
 * one is reported at start-up naming the file, not at the first connection attempt; every
 * credential is checked the same way (a malformed seed or creds file fails here too).
 */
import { readFileSync } from 'node:fs';
import {
  credsAuthenticator,
  nkeyAuthenticator,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type TlsOptions,
} from '@nats-io/nats-core';
import { InvalidArgumentError } from '../errors.js';

/** Paths of credential files, or (password, token) the secret itself. All optional. */
export interface NatsAuthSettings {
  /** A JWT user credentials file (`.creds`: the JWT and its nkey seed). */
  readonly credsFile?: string;
  /** A file holding a user nkey seed (`SU…`). */
  readonly nkeyFile?: string;
  readonly user?: string;
  readonly password?: string;
  readonly passwordFile?: string;
  readonly token?: string;
  readonly tokenFile?: string;
  /** PEM file of the CA(s) that signed the server's certificate (else the system's CAs). */
  readonly caFile?: string;
  /** PEM client certificate and its key, for servers that verify clients (`verify: true`). */
  readonly certFile?: string;
  readonly keyFile?: string;
}

/** What `connectNats` adds to the client's options. */
export interface NatsAuth {
  readonly authenticator?: Authenticator;
  readonly tls?: TlsOptions;
  /** Appended to a refusal's message, e.g. "check --nats-creds". */
  readonly hint?: string;
}

/** A setting that names what is wrong with it; `setting` is the NatsAuthSettings key. */
export class NatsAuthSettingError extends InvalidArgumentError {
  override name = 'NatsAuthSettingError';
  constructor(
    readonly setting: keyof NatsAuthSettings,
    message: string,
  ) {
    super(message, { setting });
  }
}

/**
 * Reads the files and builds the authenticator and TLS options; throws NatsAuthSettingError
 * naming the setting for a missing, unreadable or malformed file, or for settings that do not
 * go together. Nothing given: an empty NatsAuth (no credentials, TLS only for `tls://` URLs).
 */
export function loadNatsAuth(settings: NatsAuthSettings, hint?: string): NatsAuth {
  const s = settings;
  const ways = (['credsFile', 'nkeyFile', 'user', 'tokenFile', 'token'] as const).filter((k) => s[k] !== undefined);
  // A token from a file and from the environment are two values for one thing.
  const distinct = ways.filter((k) => !(k === 'token' && ways.includes('tokenFile')));
  if (distinct.length > 1) throw new NatsAuthSettingError(distinct[1]!, `only one way to authenticate may be given, not both ${distinct.join(' and ')}`);
  if ((s.password !== undefined || s.passwordFile !== undefined) && s.user === undefined) {
    throw new NatsAuthSettingError(s.passwordFile !== undefined ? 'passwordFile' : 'password', 'a password needs a user name too');
  }
  if ((s.certFile === undefined) !== (s.keyFile === undefined)) {
    throw new NatsAuthSettingError(s.certFile === undefined ? 'keyFile' : 'certFile', 'a client certificate needs its key, and the key its certificate');
  }

  let authenticator: Authenticator | undefined;
  if (s.credsFile !== undefined) {
    const creds = readSetting('credsFile', s.credsFile);
    if (!/-----BEGIN NATS USER JWT-----/.test(creds) || !/-----BEGIN USER NKEY SEED-----/.test(creds)) {
      throw new NatsAuthSettingError('credsFile', `${s.credsFile} is not a NATS user credentials file (no user JWT and nkey seed in it)`);
    }
    authenticator = checked('credsFile', s.credsFile, credsAuthenticator(new TextEncoder().encode(creds)));
  } else if (s.nkeyFile !== undefined) {
    const seed = readSetting('nkeyFile', s.nkeyFile).trim();
    authenticator = checked('nkeyFile', s.nkeyFile, nkeyAuthenticator(new TextEncoder().encode(seed)));
  } else if (s.user !== undefined) {
    const password = s.passwordFile !== undefined ? firstLine(readSetting('passwordFile', s.passwordFile)) : s.password;
    if (password === undefined) throw new NatsAuthSettingError('user', `user "${s.user}" needs a password (a password file or the password variable)`);
    authenticator = usernamePasswordAuthenticator(s.user, password);
  } else if (s.tokenFile !== undefined || s.token !== undefined) {
    authenticator = tokenAuthenticator(s.tokenFile !== undefined ? firstLine(readSetting('tokenFile', s.tokenFile)) : s.token!);
  }

  let tls: TlsOptions | undefined;
  if (s.caFile !== undefined || s.certFile !== undefined) {
    tls = {
      ...(s.caFile === undefined ? {} : { ca: readSetting('caFile', s.caFile) }),
      ...(s.certFile === undefined ? {} : { cert: readSetting('certFile', s.certFile), key: readSetting('keyFile', s.keyFile!) }),
    };
  }
  return { ...(authenticator ? { authenticator } : {}), ...(tls ? { tls } : {}), ...(hint === undefined ? {} : { hint }) };
}

/** Whether any credential or TLS setting is given. */
export function hasNatsAuth(settings: NatsAuthSettings): boolean {
  return Object.values(settings).some((v) => v !== undefined);
}

function readSetting(setting: keyof NatsAuthSettings, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : (e as Error).message;
    throw new NatsAuthSettingError(setting, `cannot read ${file}: ${why}`);
  }
}

/** Secrets kept in files often end with a newline that is no part of them. */
function firstLine(text: string): string {
  return text.split(/\r?\n/)[0]!;
}

/** Runs the authenticator once against a made-up nonce, so a malformed seed fails now. */
function checked(setting: keyof NatsAuthSettings, file: string, auth: Authenticator): Authenticator {
  try {
    auth('jetsaga-check');
  } catch (e) {
    throw new NatsAuthSettingError(setting, `${file} holds no valid nkey seed (${(e as Error).message})`);
  }
  return auth;
}
