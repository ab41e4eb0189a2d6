/**
 * parseProcfile / readProcfile: `name: command` lines with comments and blank lines; every
 * malformed line is an AppConfigError naming the Procfile and the line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { AppConfigError } from '../../src/build/app/app-config-error.js';
import { findProcess, parseProcfile, readProcfile } from '../../src/build/app/procfile.js';
import { makeTree, removeTrees } from '../fixtures/apps/temp-tree.js';

afterEach(removeTrees);

function procfileError(text: string): AppConfigError {
  try {
    parseProcfile(text);
  } catch (e) {
    if (e instanceof AppConfigError) return e;
    throw e;
  }
  throw new Error('expected an AppConfigError');
}

describe('parseProcfile', () => {
  it('reads processes in order, skipping comments and blank lines, keeping colons in commands', () => {
    const procfile = parseProcfile(
      ['# processes', '', 'web: node server.js --port $PORT', '  worker_2 :   node jobs.js --url=http://127.0.0.1:4222  ', '\t', 'release-x:./migrate'].join('\n'),
    );
    expect(procfile.processes).toEqual([
      { name: 'web', command: 'node server.js --port $PORT', line: 3 },
      { name: 'worker_2', command: 'node jobs.js --url=http://127.0.0.1:4222', line: 4 },
      { name: 'release-x', command: './migrate', line: 6 },
    ]);
    expect(findProcess(procfile, 'worker_2')?.command).toBe('node jobs.js --url=http://127.0.0.1:4222');
    expect(findProcess(procfile, 'clock')).toBeUndefined();
    expect(findProcess(null, 'web')).toBeUndefined();
  });

  it('accepts CRLF line ends and an empty file', () => {
    expect(parseProcfile('web: a\r\nworker: b\r\n').processes.map((p) => [p.name, p.command, p.line])).toEqual([
      ['web', 'a', 1],
      ['worker', 'b', 2],
    ]);
    expect(parseProcfile('').processes).toEqual([]);
  });

  it('treats names like __proto__ as plain names', () => {
    const procfile = parseProcfile('__proto__: x\nconstructor: y\n');
    expect(findProcess(procfile, '__proto__')?.command).toBe('x');
    expect(JSON.parse(JSON.stringify(procfile))).toEqual(procfile);
  });

  it.each([
    { what: 'a line without ":"', text: 'web: a\nnode worker.js\n', message: 'Procfile:2: must be "name: command", found "node worker.js" (no ":")' },
    { what: 'a bad process name', text: '\n\nweb server: a\n', message: 'Procfile:3: process name "web server" must be letters, digits, "_" or "-"' },
    { what: 'an empty name', text: ': node a.js\n', message: 'Procfile:1: process name "" must be letters, digits, "_" or "-"' },
    { what: 'an empty command', text: 'web: a\nworker:   \n', message: 'Procfile:2: worker has an empty command' },
    { what: 'a name given twice', text: 'web: a\n# again\nweb: b\n', message: 'Procfile:3: web is defined twice (first on line 1)' },
  ])('refuses $what, naming the line', ({ text, message }) => {
    const e = procfileError(text);
    expect(e.message).toBe(message);
    expect(e.details?.file).toBe('Procfile');
    expect(e.retryable).toBe(false);
  });

  it('reports every bad line at once', () => {
    const e = procfileError('oops\nweb: a\nweb: b\nx y: c\n');
    expect(e.problems.map((p) => p.line)).toEqual([1, 3, 4]);
  });
});

describe('readProcfile', () => {
  it('reads dir/Procfile, and gives null when there is none', async () => {
    expect((await readProcfile(await makeTree({ Procfile: 'web: ./app\n' })))?.processes).toEqual([{ name: 'web', command: './app', line: 1 }]);
    expect(await readProcfile(await makeTree({ 'procfile.txt': 'web: x' }))).toBeNull();
  });

  it('refuses a Procfile that is a directory', async () => {
    await expect(readProcfile(await makeTree({ Procfile: { dir: true } }))).rejects.toMatchObject({
      message: 'Procfile: must be a regular file, found a directory',
    });
  });
});
