/**
 * decideWebProcess: app.toml [run] web beats the Procfile's web line, which beats the stack's
 * default; shell strings become `sh -c` argv; nothing at all is an error saying where it looked.
 */
import { describe, expect, it } from 'vitest';
import { AppConfigError } from '../../src/build/app/app-config-error.js';
import { DEFAULT_APP_CONFIG, parseAppConfig } from '../../src/build/app/app-config.js';
import { parseProcfile } from '../../src/build/app/procfile.js';
import type { Stack } from '../../src/build/app/stack.js';
import { decideWebProcess, toArgv } from '../../src/build/app/web-process.js';

const node: Stack = { name: 'node', reason: 'package.json', defaultWeb: ['npm', 'start'], defaultWebFrom: 'scripts.start in package.json', defaultOnbuild: [] };
const bare: Stack = { name: 'python', reason: 'requirements.txt', defaultOnbuild: [] };
const procfile = parseProcfile('worker: node jobs.js\nweb: node server.js --port $PORT\n');

describe('decideWebProcess', () => {
  it('takes app.toml [run] web first, as sh -c for a string', () => {
    const config = parseAppConfig('name = "a"\n\n[run]\nweb = "node app.js && echo done"\n');
    expect(decideWebProcess({ config, procfile, stack: node })).toEqual({
      argv: ['sh', '-c', 'node app.js && echo done'],
      source: 'app.toml',
      from: 'app.toml [run] web (line 4)',
    });
  });

  it('runs an argv from app.toml as is', () => {
    const config = parseAppConfig('run.web = ["node", "--enable-source-maps", "app.js"]\n');
    expect(decideWebProcess({ config, procfile: null, stack: node }).argv).toEqual(['node', '--enable-source-maps', 'app.js']);
  });

  it('takes the Procfile web line next', () => {
    expect(decideWebProcess({ config: DEFAULT_APP_CONFIG, procfile, stack: node })).toEqual({
      argv: ['sh', '-c', 'node server.js --port $PORT'],
      source: 'Procfile',
      from: 'Procfile line 2',
    });
  });

  it('falls back to the stack default, ignoring Procfile processes other than web', () => {
    expect(decideWebProcess({ config: DEFAULT_APP_CONFIG, procfile: parseProcfile('worker: x'), stack: node })).toEqual({
      argv: ['npm', 'start'],
      source: 'stack',
      from: 'scripts.start in package.json',
    });
  });

  it('is an error when nothing names a web process, saying where it looked', () => {
    const run = (p: typeof procfile | null) => {
      try {
        decideWebProcess({ config: DEFAULT_APP_CONFIG, procfile: p, stack: bare });
      } catch (e) {
        return e as AppConfigError;
      }
      throw new Error('expected an error');
    };
    const none = run(null);
    expect(none).toBeInstanceOf(AppConfigError);
    expect(none.message).toBe(
      'app.toml: run.web is not set, there is no Procfile, and the python stack (requirements.txt) has no default for this app ' +
        '(it looks for app.py, main.py); set [run] web in app.toml or add "web: <command>" to a Procfile',
    );
    expect(run(parseProcfile('worker: x')).message).toContain('the Procfile has no "web:" line');
  });

  it('toArgv copies an argv and wraps a string', () => {
    const argv = ['a', 'b'];
    expect(toArgv(argv)).toEqual(argv);
    expect(toArgv(argv)).not.toBe(argv);
    expect(toArgv('a b')).toEqual(['sh', '-c', 'a b']);
  });
});
