/**
 * A deploy's secret env vars are sealed here, by the coordinator that receives the deploy,
 * before the build's input is journaled: the request carries them plain (over NATS, never
 * stored), the journal only their ciphertext.
 */
import { SagaError, UnknownSagaError } from '../errors.js';
import type { Runtime } from '../runtime/runtime.js';
import { isSealedEnv, sealEnv, SecretErrorCode, SECRETS_KEY_HINT, type SealedEnv, type SecretKeyRing } from '../secrets/index.js';

export interface SecretSealing {
  readonly runtime: Runtime;
  /** The coordinator's key ring (`BuildHost.secrets`). */
  readonly secrets?: SecretKeyRing;
}

/**
 * The sealed form of `plain` for a build of `app` (undefined: no secrets). A repeated deploy
 * under an existing build id reuses that build's sealed values where they hold the same plain
 * text, so its input is the same and nothing new starts.
 * @throws SECRETS_KEY_MISSING when there is no key ring, or when the existing build's secrets
 *   were sealed with a key this coordinator does not hold (it cannot tell a repeat from a change)
 */
export async function sealDeploySecrets(target: SecretSealing, app: string, id: string | undefined, plain: Readonly<Record<string, string>> | undefined): Promise<SealedEnv | undefined> {
  if (!plain || Object.keys(plain).length === 0) return undefined;
  if (!target.secrets) {
    throw new SagaError(SecretErrorCode.KeyMissing, `this coordinator has no secrets key to seal the deploy's secrets with; start it with ${SECRETS_KEY_HINT}`, { status: 500 });
  }
  return sealEnv(target.secrets, app, plain, id === undefined ? undefined : await journaledSecrets(target.runtime, id, app));
}

async function journaledSecrets(runtime: Runtime, id: string, app: string): Promise<SealedEnv | undefined> {
  try {
    const input = ((await runtime.get(id)).context as { input?: { app?: unknown; secretEnv?: unknown } } | null)?.input;
    return input?.app === app && isSealedEnv(input.secretEnv) ? input.secretEnv : undefined;
  } catch (err) {
    if (err instanceof UnknownSagaError) return undefined;
    throw err;
  }
}
