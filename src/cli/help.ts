/** What `jetsaga --help` says beyond the commands and options commander lists, and `--version`. */
import { readFileSync } from 'node:fs';

/**
 * Shown after the program's own `--help`: how jetsaga waits, logs and exits. The NATS wait is
 * NATS_CONNECT_TIMEOUT_MS (src/nats/connect.ts), written out so that `--help` does not load the
 * NATS client; test/e2e/cli-help.e2e.test.ts keeps the two equal.
 */
export const HELP_FOOTER = `
Examples:
  $ jetsaga serve                              run a coordinator (embeds what is missing)
  $ jetsaga serve --deploy examples/node-hello run one and deploy an app once it is ready
  $ jetsaga boot status --json                 the boot state of every coordinator
  $ jetsaga <command> --help                   a command's own options

Flags override JETSAGA_* environment variables, which override defaults.
NATS that refuses is reported at once, NATS that never answers after 4 s; serve keeps
retrying and says what it waits for. One Ctrl-C (SIGINT) or SIGTERM stops serve.

Logs: JSON lines on stderr; level from JETSAGA_LOG (info).
Exit codes: 0 ok (boot status: all running and ready), 1 failed (a build rolled back, a
  saga not blocked; boot status: unhealthy), 2 usage (bad flags or settings, e.g. --nats
  garbage), 3 NATS unreachable, credentials or permissions refused, no coordinator answers, or NATS stayed unavailable, 4 not found, 5 refused: the app's
  deployment lock is held by another build (named), 130 interrupted (Ctrl-C; builds go on).`;

/** Read from the package.json above this file (src/cli when run from source, dist/src/cli when built). */
export function version(): string {
  for (const up of ['../../package.json', '../../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'jetsaga' && pkg.version) return `jetsaga ${pkg.version}`;
    } catch {
      // not at this level
    }
  }
  return 'jetsaga (unknown version)';
}
