/**
 * How to run the built-in static server as a child process with the current Node.
 *
 * The entry is found next to this module, with this module's own extension: from compiled
 * JavaScript (`dist/`) that is `static-server-main.js`, run as is; from TypeScript sources (tsx,
 * vitest) it is `static-server-main.ts`, run with tsx's loader. The loader is passed as an
 * absolute file URL resolved from here, not as the bare `tsx`, because the child's cwd is the
 * site's directory, from which `--import tsx` would not resolve.
 */
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface ProgramArgv {
  bin: string;
  args: string[];
}

/** `static-server-main` beside this module, `.js` or `.ts` as this module is. */
export function staticServerEntry(): URL {
  const ext = extname(fileURLToPath(import.meta.url));
  return new URL(`./static-server-main${ext}`, import.meta.url);
}

/** The argv that serves `dir`, running `entry` (default: `staticServerEntry()`). */
export function staticServerCommand(dir: string, entry: URL = staticServerEntry()): ProgramArgv {
  const file = fileURLToPath(entry);
  const ts = /\.[mc]?ts$/.test(file);
  return { bin: process.execPath, args: ts ? ['--import', tsxLoaderUrl(), file, dir] : [file, dir] };
}

function tsxLoaderUrl(): string {
  try {
    return pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  } catch (err) {
    throw new Error('running the static server from TypeScript sources needs tsx (a dev dependency); build with `npm run build` to run it as JavaScript', {
      cause: err,
    });
  }
}
