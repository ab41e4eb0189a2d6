/** What `addons.list` and `addons.get` take and answer (see schemas.ts for the conventions). */
import { z } from 'zod';
import { ADDON_NAME_PATTERN } from '../addons/addon-names.js';
import { APP_NAME_PATTERN } from '../entities/names.js';

const appName = z.string().regex(APP_NAME_PATTERN, 'an app name is [a-z0-9][a-z0-9-]{0,62}');

export const AddonsListRequest = z.strictObject({ app: appName });
export const AddonsGetRequest = z.strictObject({ app: appName, name: z.string().regex(ADDON_NAME_PATTERN, 'an addon name is [a-z][a-z0-9-]{0,19}') });

/** An addon as the API shows it: the record with its URL redacted (the password never leaves the coordinator). */
const addonView = z.looseObject({ app: z.string(), name: z.string(), kind: z.string(), state: z.string(), url: z.string() });
export const AddonsListReply = z.looseObject({ app: z.string(), addons: z.array(addonView) });
export const AddonsGetReply = z.looseObject({ addon: addonView });
