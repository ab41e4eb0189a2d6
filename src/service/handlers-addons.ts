/**
 * `addons.list` and `addons.get`: an app's addons as the entities hold them, each URL shown
 * with its password as `[redacted]` — the sealed URL never leaves the coordinator, not even as
 * ciphertext.
 */
import type { z } from 'zod';
import { AddonErrorCode } from '../addons/addon-errors.js';
import { redactedDatabaseUrl } from '../addons/postgres-url.js';
import type { Coordinator } from '../coordinator.js';
import type { AddonRecord } from '../entities/index.js';
import { SagaError } from '../errors.js';
import type { AddonsGetRequest, AddonsListRequest } from './schemas-addons.js';

/** What the API answers for an addon. */
export type AddonView = Omit<AddonRecord, 'url'> & { readonly url: string };

export function addonView(record: AddonRecord): AddonView {
  return { ...record, url: redactedDatabaseUrl(record) };
}

export const addonHandlers = {
  'addons.list': async (r: z.output<typeof AddonsListRequest>, c: Coordinator) => ({
    app: r.app,
    addons: (await c.builds.entities.addons.list(r.app)).map(addonView),
  }),
  'addons.get': async (r: z.output<typeof AddonsGetRequest>, c: Coordinator) => {
    const found = await c.builds.entities.addons.get(r.app, r.name);
    if (!found) throw new SagaError(AddonErrorCode.UnknownAddon, `app "${r.app}" has no addon "${r.name}"`, { status: 404, details: { app: r.app, name: r.name } });
    return { addon: addonView(found) };
  },
};
