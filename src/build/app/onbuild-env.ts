/**
 * The environment of an app's build commands: explicit and minimal, never the coordinator's
 * own. The coordinator's env holds what a build must not see or be steered by: NATS and
 * registry settings (JETSAGA_*), credentials, SSH_AUTH_SOCK, and — when it runs under
 * `npm start` or tsx — NODE_OPTIONS and npm_config_* / npm_lifecycle_* variables that would
 * change what a nested `npm ci` or `node` does. So a build gets:
 *
 * - PATH: the host's (the tools a stack needs — npm, python3, go, bundle — are the host's);
 * - HOME and TMPDIR: a scratch dir of the build's own, so caches (~/.npm, ~/go, ~/.cache)
 *   neither land in the coordinator's home nor leak between apps, and are removed after;
 * - LANG=C.UTF-8, so tools print UTF-8 rather than guessing from a locale the host may lack;
 * - NPM_CONFIG_UPDATE_NOTIFIER=false and PIP_DISABLE_PIP_VERSION_CHECK=1: a build's output is
 *   the app's, not adverts for newer tools (they also cost a request to a registry each run);
 * - the app's env ([env] and whatever the caller passes), which may override PATH and LANG
 *   but not HOME and TMPDIR (the scratch dir is what gets cleaned up).
 */
import { join } from 'node:path';

/** PATH when the host has none (a coordinator started with an empty environment). */
export const FALLBACK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The env of a build command whose scratch HOME is `home`. */
export function onbuildEnv(appEnv: Readonly<Record<string, string>>, home: string): Record<string, string> {
  return {
    PATH: process.env.PATH || FALLBACK_PATH,
    LANG: 'C.UTF-8',
    NPM_CONFIG_UPDATE_NOTIFIER: 'false',
    PIP_DISABLE_PIP_VERSION_CHECK: '1',
    ...appEnv,
    HOME: home,
    TMPDIR: scratchTmp(home),
  };
}

/** The TMPDIR under a scratch HOME. */
export function scratchTmp(home: string): string {
  return join(home, 'tmp');
}
