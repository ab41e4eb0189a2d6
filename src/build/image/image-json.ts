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

/** A content descriptor (digest, size, media type, and annotations when it has any). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/**
 * The manifest annotation that marks jetsaga's own layer (value {@link APP_LAYER}): the layer a
 * pull with `layers: 'app'` fetches, where the host's system stands in for the base's layers.
 */
export const LAYER_ANNOTATION = 'org.jetsaga.layer';
/** The value of {@link LAYER_ANNOTATION} on the app layer. */
export const APP_LAYER = 'app';
/** The OCI annotation naming the base image's manifest digest (OCI image-spec annotations.md). */
export const BASE_DIGEST_ANNOTATION = 'org.opencontainers.image.base.digest';

/**
 * The parts of a base image's config that the merge reads; everything else in it is kept as is.
 * `config.Env` is a list of `KEY=VALUE` lines.
 */
export interface BaseImageConfig {
  architecture?: unknown;
  os?: unknown;
  config?: Record<string, unknown> | null;
  rootfs?: { type?: unknown; diff_ids?: unknown };
  history?: unknown;
  [key: string]: unknown;
}

/** Extra inputs of {@link imageConfigJson}. */
export interface ImageConfigExtras {
  /** The base image's config: its layers come first, its settings are the defaults. */
  base?: BaseImageConfig;
  /** Where the app layer's tree is in the image (history's `COPY . /<dir>`; default 'app'). */
  layerDir?: string;
}

/**
 * The OCI image config for jetsaga's layers with these diffIDs, alone or on top of a base
 * image's config. With a base: its `rootfs.diff_ids` and `history` come first, `Env` is the
 * base's with ours merged in (ours wins per name: base lines keep their order with our value,
 * names only we have follow, sorted), Cmd, Entrypoint, WorkingDir and Labels are ours when
 * given, else the base's (a new Entrypoint drops the base's Cmd, as in a Dockerfile), and
 * architecture, os and every other field come from the base. `created` is always
 * {@link IMAGE_CREATED}, so the same base config and the same layer give the same bytes.
 */
export function imageConfigJson(runtime: ImageRuntimeConfig, diffIds: readonly string[], extras: ImageConfigExtras = {}): string {
  const history = diffIds.map(() => ({ created: IMAGE_CREATED, created_by: `jetsaga: COPY . /${extras.layerDir ?? 'app'}` }));
  if (extras.base) return canonicalJson(mergedConfig(runtime, diffIds, history, extras.base));
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
    history,
  });
}

function mergedConfig(runtime: ImageRuntimeConfig, diffIds: readonly string[], history: object[], base: BaseImageConfig): Record<string, unknown> {
  const baseDiffIds = Array.isArray(base.rootfs?.diff_ids) ? (base.rootfs.diff_ids as unknown[]) : [];
  const baseHistory = Array.isArray(base.history) ? (base.history as unknown[]) : [];
  const config: Record<string, unknown> = { ...(base.config ?? {}) };
  const env = mergeEnv(Array.isArray(config.Env) ? (config.Env as unknown[]).filter((l): l is string => typeof l === 'string') : [], runtime.env ?? {});
  if (env.length > 0) config.Env = env;
  else delete config.Env;
  if (runtime.entrypoint) {
    config.Entrypoint = [...runtime.entrypoint];
    if (!runtime.cmd) delete config.Cmd;
  }
  if (runtime.cmd) config.Cmd = [...runtime.cmd];
  if (runtime.workingDir !== undefined) config.WorkingDir = runtime.workingDir;
  if (runtime.labels && Object.keys(runtime.labels).length > 0) config.Labels = { ...runtime.labels };
  return {
    ...base,
    created: IMAGE_CREATED,
    config,
    rootfs: { type: 'layers', diff_ids: [...baseDiffIds, ...diffIds] },
    history: [...baseHistory, ...history],
  };
}

/**
 * `base` (KEY=VALUE lines) with `ours` merged in: a base line whose name we set keeps its place
 * with our value, names only we set follow, sorted by bytes (as {@link envList}).
 */
export function mergeEnv(base: readonly string[], ours: Record<string, string>): string[] {
  const done = new Set<string>();
  const out = base.map((line) => {
    const eq = line.indexOf('=');
    const name = eq < 0 ? line : line.slice(0, eq);
    if (!Object.hasOwn(ours, name)) return line;
    done.add(name);
    return `${name}=${ours[name]}`;
  });
  const rest = Object.fromEntries(Object.entries(ours).filter(([k]) => !done.has(k)));
  return [...out, ...envList(rest)];
}

/**
 * The OCI image manifest of a config and its layers. Descriptor annotations are written when
 * present; `annotations` are the manifest's own (left out when empty).
 */
export function imageManifestJson(config: Descriptor, layers: readonly Descriptor[], annotations: Record<string, string> = {}): string {
  return canonicalJson({
    schemaVersion: 2,
    mediaType: MediaType.Manifest,
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({
      mediaType: l.mediaType,
      digest: l.digest,
      size: l.size,
      ...(l.annotations && Object.keys(l.annotations).length > 0 ? { annotations: { ...l.annotations } } : {}),
    })),
    ...(Object.keys(annotations).length > 0 ? { annotations: { ...annotations } } : {}),
  });
}

/** `KEY=VALUE` lines sorted by key (byte order). */
export function envList(env: Record<string, string>): string[] {
  return Object.keys(env)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))
    .map((k) => `${k}=${env[k]}`);
}
