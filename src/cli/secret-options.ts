/**
 * `jetsaga deploy --secret NAME` (the value of the CLI's own environment variable NAME) and
 * `--secret NAME=@file` (the file's content, one trailing newline dropped). A value written on
 * the command line is refused: it would sit in the shell's history and in `ps` output.
 */
import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { CliError, ExitCode } from './exit-codes.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export interface SecretSpec {
  readonly name: string;
  /** The file holding the value; absent: the environment variable `name`. */
  readonly file?: string;
}

/** Commander's parser of a repeatable `--secret`. */
export function collectSecret(value: string, previous: SecretSpec[] | undefined): SecretSpec[] {
  const eq = value.indexOf('=');
  const name = eq < 0 ? value : value.slice(0, eq);
  if (!NAME.test(name)) throw new InvalidArgumentError(`takes NAME or NAME=@file, with NAME [A-Za-z_][A-Za-z0-9_]*; got ${JSON.stringify(name)}`);
  if (eq >= 0 && !value.startsWith('@', eq + 1)) {
    throw new InvalidArgumentError(`takes NAME (read from your environment) or NAME=@file, never the value itself (it would be in your shell history)`);
  }
  if (eq >= 0 && value.length === eq + 2) throw new InvalidArgumentError(`${name}=@ names no file`);
  const spec: SecretSpec = eq < 0 ? { name } : { name, file: value.slice(eq + 2) };
  if (previous?.some((p) => p.name === name)) throw new InvalidArgumentError(`${name} is given twice`);
  return [...(previous ?? []), spec];
}

/** The values, by name; a missing variable or an unreadable file is a usage error naming it. */
export async function readSecrets(specs: readonly SecretSpec[], env: NodeJS.ProcessEnv = process.env): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const spec of specs) {
    if (spec.file === undefined) {
      const value = env[spec.name];
      if (value === undefined) throw new CliError(`--secret ${spec.name}: the environment variable ${spec.name} is not set (export it, or use --secret ${spec.name}=@file)`, ExitCode.Usage);
      out[spec.name] = value;
      continue;
    }
    const text = await readFile(spec.file, 'utf8').catch((e: unknown) => {
      throw new CliError(`--secret ${spec.name}=@${spec.file}: ${(e as Error).message}`, ExitCode.Usage);
    });
    // `echo value > file` adds a newline nobody means as part of the secret.
    out[spec.name] = text.replace(/\r?\n$/, '');
  }
  return out;
}
