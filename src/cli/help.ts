/** `jetsaga --help` and `--version`. */
import { readFileSync } from 'node:fs';
import { NATS_CONNECT_TIMEOUT_MS } from '../nats/connect.js';

export const HELP = `jetsaga — durable sagas on NATS JetStream

Usage:
  jetsaga serve               run a coordinator (boots NATS, JetStream, staging, registry, ...
                              in order; embeds nats-server / docker-registry when none is
                              configured or listening)
  jetsaga boot status         each boot dependency of each coordinator: state, since, last error;
                              a health check: exits 1 when a coordinator shown is stopped
                              (its report is stale) or a dependency is not ready
  jetsaga version             print the version

Options (each also read from the environment variable shown):
  --nats <url>                NATS server(s), comma-separated        JETSAGA_NATS_URL
                              (never embedded when given); each one
                              host:port or nats://host:port (tls://
                              too), host a name or IP ([::1] for
                              IPv6), the port always given
  --nats-port <port>          default/embedded NATS port (4222)      JETSAGA_NATS_PORT
  --registry <host:port>      OCI registry (never embedded when given) JETSAGA_REGISTRY
  --registry-port <port>      default/embedded registry port (5000)  JETSAGA_REGISTRY_PORT
  --registry-name <host>      name images are pushed under           JETSAGA_REGISTRY_NAME
                              (cluster.local; resolved by jetsaga itself)
  --data-dir <dir>            staging and embedded server data       JETSAGA_DATA_DIR
                              (~/.local/share/jetsaga)
  --owner <name>              this coordinator's stable name         JETSAGA_OWNER
  --namespace <ns>            prefix of streams, subjects, buckets   JETSAGA_NAMESPACE
  --deploy <dir>              serve: once ready, deploy the app in <dir> and
                              print where it answers
  --coordinator <name>        boot status: only this coordinator (and only it counts
                              for the exit code)
  --json                      machine-readable output
  -h, --help                  this help
  -v, --version               the version

NATS that refuses is reported at once, NATS that never answers after ${NATS_CONNECT_TIMEOUT_MS / 1000} s; serve keeps
retrying and says what it waits for. One Ctrl-C (SIGINT) or SIGTERM stops serve.

Logs: JSON lines on stderr; level from JETSAGA_LOG (info).
Exit codes: 0 ok (boot status: all running and ready), 1 failed (boot status: unhealthy),
  2 usage (bad flags or settings, e.g. --nats garbage), 3 NATS unreachable, 4 not found.`;

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
