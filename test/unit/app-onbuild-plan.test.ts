/** planOnbuild: app.toml's onbuild (even an empty one) beats the stack's defaults. */
import { describe, expect, it } from 'vitest';
import { DEFAULT_APP_CONFIG, parseAppConfig } from '../../src/build/app/app-config.js';
import { planOnbuild } from '../../src/build/app/onbuild-plan.js';
import type { Stack } from '../../src/build/app/stack.js';

const go: Stack = { name: 'go', reason: 'go.mod', defaultWeb: ['./app'], defaultOnbuild: ['go build -o app .'] };

describe('planOnbuild', () => {
  it('uses the stack defaults when app.toml has no onbuild', () => {
    expect(planOnbuild(DEFAULT_APP_CONFIG, go)).toEqual({ commands: ['go build -o app .'], source: 'stack', timeoutSec: 600 });
  });

  it('uses app.toml onbuild and timeout, and an empty onbuild means no commands', () => {
    expect(planOnbuild(parseAppConfig('[build]\nonbuild = ["make"]\ntimeout = 30\n'), go)).toEqual({ commands: ['make'], source: 'app.toml', timeoutSec: 30 });
    expect(planOnbuild(parseAppConfig('build.onbuild = []\n'), go)).toEqual({ commands: [], source: 'app.toml', timeoutSec: 600 });
  });
});
