/**
 * The environment a sandbox's process gets: explicit and small, as on a cluster node, so that
 * nothing of the coordinator (its NATS URL, credentials, NODE_OPTIONS, the test runner's
 * variables) leaks into an app, and an app behaves the same whoever started the coordinator.
 */

/** PATH when the coordinator has none (a bare `env -i` start). */
const FALLBACK_PATH = '/usr/local/bin:/usr/bin:/bin';

export interface SandboxEnvInput {
  /** The spec's env, already validated (no PORT/HOST other than ours). */
  specEnv: Readonly<Record<string, string>>;
  port: number;
  /** The host path of the working dir. */
  workDir: string;
  /** The coordinator's PATH. */
  hostPath: string | undefined;
}

/**
 * Builds the environment, from lowest to highest precedence:
 * - `PATH` from the host: commands (`node`, `python3`) are the host's, not the image's;
 * - `HOME` = the working dir, so an app that writes to `~` writes into its own tree and not
 *   into the coordinator's home (as on Heroku-like platforms, where HOME is the app dir);
 * - `LANG=C.UTF-8`, so that file names and output decode the same on every host, whatever
 *   locale the coordinator was started in;
 * - the spec's env (may override the three above);
 * - `PORT` and `HOST=127.0.0.1`, always the controller's: the app must listen there (apps must
 *   honour PORT and HOST; the controller only ever checks loopback).
 */
export function sandboxEnv(input: SandboxEnvInput): Record<string, string> {
  return {
    PATH: input.hostPath || FALLBACK_PATH,
    HOME: input.workDir,
    LANG: 'C.UTF-8',
    ...input.specEnv,
    PORT: String(input.port),
    HOST: '127.0.0.1',
  };
}
