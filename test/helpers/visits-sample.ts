/**
 * The postgres-visits sample (examples/postgres-visits) copied under a new app's name: addon
 * roles and databases are named after the app and are server-wide, so each test deploys an app
 * of its own.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { addonIdentifier } from '../../src/addons/addon-names.js';
import { uniqueApp } from './postgres.js';

const SAMPLE = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'examples', 'postgres-visits');

export interface VisitsSample {
  readonly app: string;
  readonly dir: string;
  /** The role and database name of its addon `db`. */
  readonly identifier: string;
}

/** Copies the sample into `parent`, named for a new app (`prefix-…`). */
export async function visitsSample(parent: string, prefix: string): Promise<VisitsSample> {
  const app = uniqueApp(prefix);
  const dir = join(parent, app);
  await cp(SAMPLE, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
  const toml = await readFile(join(dir, 'app.toml'), 'utf8');
  await writeFile(join(dir, 'app.toml'), toml.replace(/^name = .*$/m, `name = "${app}"`));
  return { app, dir, identifier: addonIdentifier(app, 'db') };
}
