/**
 * The image config and manifest documents, as pure functions of the build's inputs: canonical
 * JSON (sorted keys), a fixed `created`, and a history that names no local path, so that the
 * same inputs always give the same bytes and digests (notes/oci.md §0.2).
 */
import { canonicalJson } from '../../util/canonical-json.js';
import { MediaType } from './media-types.js';

/** The fixed creation time of every image: reproducible builds carry no clock. */
export const IMAGE_CREATED = '1970-01-01T00:00:00Z';

/** What the image runs with (the OCI config's `config` object). */
export interface ImageRuntimeConfig {
  cmd?: string[];
  entrypoint?: string[];
  env?: Record<string, string>;
  workingDir?: string;
  labels?: Record<string, string>;
}

/** A content descriptor (digest, size, media type). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/**
 * The OCI image config for layers with these diffIDs. Base images are not supported yet: the
 * rootfs holds only jetsaga's own layers.
 */
export function imageConfigJson(runtime: ImageRuntimeConfig, diffIds: readonly string[]): string {
  const config: Record<string, unknown> = { WorkingDir: runtime.workingDir ?? '/app' };
  if (runtime.env && Object.keys(runtime.env).length > 0) config.Env = envList(runtime.env);
  if (runtime.cmd) config.Cmd = [...runtime.cmd];
  if (runtime.entrypoint) config.Entrypoint = [...runtime.entrypoint];
  if (runtime.labels && Object.keys(runtime.labels).length > 0) config.Labels = { ...runtime.labels };
  return canonicalJson({
    architecture: 'amd64',
    os: 'linux',
    created: IMAGE_CREATED,
    config,
    rootfs: { type: 'layers', diff_ids: [...diffIds] },
    history: diffIds.map(() => ({ created: IMAGE_CREATED, created_by: 'jetsaga: COPY . /app' })),
  });
}

/** The OCI image manifest of a config and its layers. */
export function imageManifestJson(config: Descriptor, layers: readonly Descriptor[]): string {
  return canonicalJson({
    schemaVersion: 2,
    mediaType: MediaType.Manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
  });
}

/** `KEY=VALUE` lines sorted by key (byte order). */
export function envList(env: Record<string, string>): string[] {
  return Object.keys(env)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((k) => `${k}=${env[k]}`);
}
