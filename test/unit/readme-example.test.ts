/**
 * The README's library examples are the documentation users copy, so they must compile as
 * written. Every ```ts block of the "Using the runtime as a library" and "Deploying an app"
 * sections is type-checked as a module of its own against the project's tsconfig (strict, noUncheckedIndexedAccess, NodeNext,
 * verbatimModuleSyntax), with `from 'jetsaga'` pointed at src/index.ts. The files are written
 * inside the project (under .scratch/) so module resolution finds node_modules as a user's
 * project would.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const SECTIONS = ['## Using the runtime as a library', '## Deploying an app'];

/** The ```ts blocks between the section's heading and the next level-2 heading. */
function sectionBlocks(readme: string, heading: string): string[] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`README has no "${heading}" section`);
  const rest = readme.slice(start + heading.length + 2);
  const end = rest.search(/^## /m);
  const section = end < 0 ? rest : rest.slice(0, end);
  return [...section.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

function projectOptions(): ts.CompilerOptions {
  const file = join(ROOT, 'tsconfig.json');
  const read = ts.readConfigFile(file, (p) => ts.sys.readFile(p));
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, ROOT, undefined, file);
  return { ...parsed.options, noEmit: true, declaration: false, sourceMap: false };
}

/** Type-checks the files with the project's options; returns the formatted diagnostics. */
function typecheck(files: readonly string[]): string[] {
  const program = ts.createProgram(files, projectOptions());
  const host: ts.FormatDiagnosticsHost = {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => ROOT,
    getNewLine: () => '\n',
  };
  return ts.getPreEmitDiagnostics(program).map((d) => ts.formatDiagnostic(d, host).trim());
}

// .scratch/ is git- and lint-ignored; only this run's directory is removed.
mkdirSync(join(ROOT, '.scratch'), { recursive: true });
const dir = mkdtempSync(join(ROOT, '.scratch', 'readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('README: the library examples', () => {
  it('type-check as written under the project tsconfig', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const blocks = SECTIONS.flatMap((section) => {
      const found = sectionBlocks(readme, section);
      expect(found.some((b) => /from\s+'jetsaga'/.test(b)), section).toBe(true);
      return found;
    });

    const entry = relative(dir, join(ROOT, 'src/index.js')).split('\\').join('/');
    const files = blocks.map((code, i) => {
      const file = join(dir, `example-${i + 1}.ts`);
      writeFileSync(file, code.replace(/from\s+(['"])jetsaga\1/g, `from '${entry}'`));
      return file;
    });
    const diagnostics = typecheck(files);
    expect(diagnostics, `the README example does not compile:\n${diagnostics.join('\n')}`).toEqual([]);
  }, 60_000);
});
