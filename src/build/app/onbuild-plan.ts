/**
 * Which build commands an app runs: app.toml's `[build] onbuild` when it has the key (an
 * empty list included: "build nothing"), else its stack's defaults.
 */
import type { AppConfig } from './app-config-schema.js';
import type { Stack } from './stack.js';

/** The commands to pass to `runOnbuild`, with where they came from and their timeout. */
export interface OnbuildPlan {
  readonly commands: readonly string[];
  readonly source: 'app.toml' | 'stack';
  readonly timeoutSec: number;
}

/** Decides the build commands (pure). */
export function planOnbuild(config: AppConfig, stack: Stack): OnbuildPlan {
  const fromConfig = config.build.onbuild;
  return {
    commands: [...(fromConfig ?? stack.defaultOnbuild)],
    source: fromConfig === undefined ? 'stack' : 'app.toml',
    timeoutSec: config.build.timeout,
  };
}
