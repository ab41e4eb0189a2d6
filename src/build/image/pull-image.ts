/**
 * Pulls an image by digest into a directory: the manifest and the config are checked against
 * their digests, each layer is streamed from the registry through the strict source extractor
 * (see ../source/safe-extract.ts: no path escapes the destination, links are never followed)
 * while its blob digest is checked, and any failure removes everything written.
 *
 * Layers are applied in order, later files replacing earlier ones. OCI whiteouts (`.wh.*`)
 * are not interpreted: jetsaga pulls its own images, whose app layer never deletes files of a
 * lower layer. With `layers: 'app'` only jetsaga's own layer (annotated `org.jetsaga.layer:
 * app` in the manifest) is fetched: the local sandbox runs the app on the host, whose own
 * system stands in for the base image's layers.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { extractSource } from '../source/safe-extract.js';
import { APP_LAYER, LAYER_ANNOTATION } from './image-json.js';
import { MediaType } from './media-types.js';
import { ImageCorruptError } from './registry-errors.js';
import { isDigest, sha256 } from './digest.js';
import type { RegistryClient } from './registry-client.js';
import { MAX_CONFIG_BYTES, parseJsonDoc as parseJson, readSmallBlob as readBlob } from './small-blob.js';

/** What was pulled: the image's run settings and where its root filesystem is. */
export interface PulledImage {
  digest: string;
  config: { Env?: string[]; Cmd?: string[]; Entrypoint?: string[]; WorkingDir?: string; Labels?: Record<string, string> };
  /** The directory holding the image's files (`<rootfs>/app/...`). */
  rootfs: string;
}

interface ManifestDoc {
  mediaType?: string;
  config?: { digest?: unknown; mediaType?: unknown };
  layers?: { digest?: unknown; mediaType?: unknown; size?: unknown; annotations?: Record<string, unknown> }[];
}

/** Options of {@link pullImage}. */
export interface PullImageOptions {
  signal?: AbortSignal;
  /**
   * 'all' (the default): every layer, as a container runtime would. 'app': only the layers
   * annotated `org.jetsaga.layer: app`, for running the app on the host; an image with no such
   * annotation (built before jetsaga wrote it, when the app layer was its only layer) is pulled
   * whole.
   */
  layers?: 'all' | 'app';
}
// Our own images: sized for apps with their dependencies, not for hostile uploads.
const PULL_LIMITS = {
  maxTotalBytes: 64 * 1024 ** 3,
  maxEntries: 2_000_000,
  maxCompressionRatio: Number.MAX_SAFE_INTEGER,
  maxArchiveBytes: 128 * 1024 ** 3,
};

/**
 * Pulls `repo@digest` into `dest`, which must be absent or an empty directory. On failure
 * `dest` is removed (or emptied, if it existed) and the error thrown: IMAGE_CORRUPT for bytes
 * that do not match their digest, REGISTRY_* for registry failures, SOURCE_REJECTED for a
 * layer that is not a safe tar.
 *
 * The base layers of an image (see BuildImageOptions.base) are pulled like any other layer
 * with `layers: 'all'`; the strict extractor refuses absolute symlinks, which many distro
 * bases contain, so such images are pulled with `layers: 'app'` for the sandbox.
 *
 * @example
 * const pulled = await pullImage(client, 'apps/web', pushed.digest, '/var/lib/jetsaga/run/web-3');
 */
export async function pullImage(client: RegistryClient, repo: string, digest: string, dest: string, opts: PullImageOptions = {}): Promise<PulledImage> {
  const { signal } = opts;
  const root = resolve(dest);
  const undo = await prepareDest(root);
  try {
    const manifest = await client.getManifest(repo, digest, signal);
    if (manifest.digest !== digest) throw new ImageCorruptError(`manifest ${repo}@${digest}`, digest, manifest.digest);
    const doc = parseJson<ManifestDoc>(manifest.bytes, `manifest ${repo}@${digest}`);
    const kind = doc.mediaType ?? manifest.mediaType;
    if (kind !== MediaType.Manifest && kind !== MediaType.DockerManifest) {
      throw new InvalidArgumentError(`${repo}@${digest} is a ${kind || 'manifest of unknown type'}, not an image manifest (indexes are not supported)`);
    }
    const configDigest = descriptorDigest(doc.config?.digest, 'config');
    const configBytes = await readBlob(await client.openBlob(repo, configDigest, signal), MAX_CONFIG_BYTES);
    const actual = sha256(configBytes);
    if (actual !== configDigest) throw new ImageCorruptError(`config of ${repo}@${digest}`, configDigest, actual);
    const config = (parseJson<{ config?: PulledImage['config'] }>(configBytes, `config of ${repo}@${digest}`).config ?? {}) as PulledImage['config'];

    const all = doc.layers ?? [];
    const isApp = (l: (typeof all)[number]): boolean => l.annotations?.[LAYER_ANNOTATION] === APP_LAYER;
    const layers = opts.layers === 'app' && all.some(isApp) ? all.filter(isApp) : all;
    for (const [i, layer] of layers.entries()) {
      const n = all.indexOf(layer); // its place in the manifest, for messages
      const layerDigest = descriptorDigest(layer.digest, `layer ${n}`);
      // The first layer goes straight into dest; later ones beside it, then merged over it.
      const into = i === 0 ? root : join(dirname(root), `.${basename(root)}.layer-${i}-${randomBytes(4).toString('hex')}`);
      try {
        const blob = await client.openBlob(repo, layerDigest, signal);
        // extractSource hashes the input as received (the blob) and inflates gzip itself.
        const result = await extractSource(blob, into, { limits: PULL_LIMITS, signal });
        if (result.digest !== layerDigest) throw new ImageCorruptError(`layer ${n} of ${repo}@${digest}`, layerDigest, result.digest);
        if (into !== root) await mergeInto(into, root);
      } finally {
        if (into !== root) await rm(into, { recursive: true, force: true });
      }
    }
    return { digest, config, rootfs: root };
  } catch (err) {
    await undo();
    throw err;
  }
}

/** Creates `root` or checks it is an empty dir; returns what removes what the pull wrote. */
async function prepareDest(root: string): Promise<() => Promise<void>> {
  const st = await lstat(root).catch(() => undefined);
  if (st === undefined) {
    await mkdir(root, { recursive: true });
    return () => rm(root, { recursive: true, force: true });
  }
  if (!st.isDirectory()) throw new InvalidArgumentError(`pull destination ${root} exists and is not a directory`, { dest: root });
  if ((await readdir(root)).length > 0) throw new InvalidArgumentError(`pull destination ${root} is not empty`, { dest: root });
  return async () => {
    for (const name of await readdir(root)) await rm(join(root, name), { recursive: true, force: true });
  };
}

/** Moves `src`'s tree over `dst`: directories merge, anything else replaces what was there. */
async function mergeInto(src: string, dst: string): Promise<void> {
  for (const name of await readdir(src)) {
    const from = join(src, name);
    const to = join(dst, name);
    const [a, b] = await Promise.all([lstat(from), lstat(to).catch(() => undefined)]);
    if (a.isDirectory() && b?.isDirectory()) {
      await mergeInto(from, to);
      continue;
    }
    if (b) await rm(to, { recursive: true, force: true });
    await rename(from, to);
  }
  await rmdir(src).catch(() => undefined);
}

function descriptorDigest(value: unknown, what: string): string {
  if (!isDigest(value)) throw new InvalidArgumentError(`image manifest has no valid ${what} digest`);
  return value;
}
