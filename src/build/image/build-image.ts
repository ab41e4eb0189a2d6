/**
 * Daemonless, reproducible image build: the staged app dir becomes one layer under `/app`, with
 * a config and a manifest, all written into a work dir (notes/oci.md §0). The layer is written
 * to a temp file first, so its digest is known before any upload (a HEAD can skip it, a retry
 * replays the file), and renamed to `<hex>.tar.gz` (or `.tar`) once complete; `image.json` is
 * written last, atomically, and marks the work dir complete.
 *
 * Same tree and options, same Node version → same digests, whatever the files' mtimes, owners
 * or group/other permission bits. Layer digests depend on Node's bundled zlib: a Node upgrade
 * may change a gzipped layer's digest (not its diffID).
 *
 * On a base image (`opts.base`, in the same registry): the image's layers are the base's
 * descriptors, reused as they are (their blobs stay in the registry; a push mounts them), then
 * the app layer; the config is the base's, extended (image-json.ts). The same base manifest
 * digest and the same tree give the same image digest, whether the base was named by tag or
 * digest. The app layer's descriptor carries `org.jetsaga.layer: app`, with or without a base.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError } from '../../errors.js';
import { readJsonFile, writeFileAtomic } from '../source/atomic-file.js';
import { resolveBaseImage, type BaseImageRef, type ResolvedBase } from './base-image.js';
import { APP_LAYER, BASE_DIGEST_ANNOTATION, imageConfigJson, imageManifestJson, LAYER_ANNOTATION } from './image-json.js';
import { runLayerWorker } from './layer-thread.js';
import type { LayerResult } from './layer-writer.js';
import { MediaType } from './media-types.js';
import { isDigest, sha256 } from './digest.js';

export interface BuildImageOptions {
  /** The staged app dir (becomes /app in the image). */
  root: string;
  /** Where the layer blob, config.json, manifest.json and image.json are written (created; reused). */
  workDir: string;
  /** gzip (level 1 unless `gzipLevel` says otherwise) or an uncompressed tar layer. */
  compression: 'gzip' | 'none';
  gzipLevel?: number;
  /**
   * The image to build on, a repository of the registry the image will be pushed to (a
   * cross-repository mount then brings its layers along without uploading them). Absent: the
   * app layer is the whole image. Cmd, Entrypoint, WorkingDir and Labels given here replace the
   * base's; Env is merged (ours wins per name); architecture and os are the base's.
   */
  base?: BaseImageRef;
  /** The top-level directory the tree becomes in the image (one path component; default 'app'). */
  layerDir?: string;
  /** Config Cmd. */
  cmd?: string[];
  entrypoint?: string[];
  /** Config Env (written sorted, KEY=VALUE). */
  env?: Record<string, string>;
  /** Default '/app' without a base; the base's WorkingDir with one. */
  workingDir?: string;
  /** e.g. org.jetsaga.source-digest, org.jetsaga.saga. */
  labels?: Record<string, string>;
  /** Paths (relative to `root`, '/'-separated) left out; an excluded directory takes its subtree. Nothing else is excluded. */
  exclude?: (relPath: string) => boolean;
  /** Stops the build: the worker is terminated and partial files removed; rejects with the reason. */
  signal?: AbortSignal;
}

/** A built image in its work dir: small and JSON-serialisable (journaled as a step output). */
export interface BuiltImage {
  workDir: string;
  manifestDigest: string;
  manifestSize: number;
  /** application/vnd.oci.image.manifest.v1+json */
  mediaType: string;
  configDigest: string;
  configSize: number;
  /**
   * jetsaga's own layers (today one, the app layer), which follow the base's in the manifest;
   * `file` is the blob's basename inside `workDir`.
   */
  layers: { digest: string; diffId: string; size: number; mediaType: string; file: string }[];
  /**
   * The base image built on: its repository, the digest of the image manifest used, and its
   * layer descriptors as they are in our manifest (no files: their blobs are in the registry).
   */
  base?: { repository: string; digest: string; layers: BaseLayer[] };
  /** Uncompressed tar bytes. */
  bytes: number;
  /** Files and symlinks in the layer (directories not counted). */
  files: number;
}

/** A base image's layer in a built image: a descriptor of a blob in the registry, with its diffID. */
export interface BaseLayer {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
  /** The descriptor's annotations in the manifest, if any. */
  annotations?: Record<string, string>;
}

/** The config, manifest and completeness marker inside a work dir. */
export const CONFIG_FILE = 'config.json';
export const MANIFEST_FILE = 'manifest.json';
export const IMAGE_FILE = 'image.json';

const TMP_PREFIX = '.layer-';

/**
 * Builds the image of `opts.root` into `opts.workDir`. The tar and gzip run in a worker thread.
 * A previous build's files in the work dir are replaced (image.json is removed first, so an
 * interrupted build never looks complete).
 *
 * @example
 * const image = await buildImage({ root: staged.dir, workDir: join(build.dir, 'image'), compression: 'gzip',
 *   cmd: ['node', 'server.js'], env: { PORT: '8080' }, labels: { 'org.jetsaga.saga': sagaId } });
 */
export async function buildImage(opts: BuildImageOptions): Promise<BuiltImage> {
  const root = resolve(opts.root);
  const workDir = resolve(opts.workDir);
  const gzipLevel = opts.compression === 'gzip' ? (opts.gzipLevel ?? 1) : null;
  if (gzipLevel !== null && !(Number.isInteger(gzipLevel) && gzipLevel >= 0 && gzipLevel <= 9)) {
    throw new InvalidArgumentError(`gzip level must be an integer 0–9, got ${String(opts.gzipLevel)}`);
  }
  const layerDir = opts.layerDir ?? 'app';
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(layerDir)) throw new InvalidArgumentError(`layer dir must be one path component, got ${JSON.stringify(layerDir)}`);
  if (!(await stat(root)).isDirectory()) throw new InvalidArgumentError(`image root ${root} is not a directory`, { root });
  opts.signal?.throwIfAborted();
  await mkdir(workDir, { recursive: true });
  await rm(join(workDir, IMAGE_FILE), { force: true });
  await removeTemps(workDir);
  // Before the layer: an unknown base or an unreachable registry costs no packing.
  const base = opts.base ? await resolveBaseImage(opts.base, opts.signal) : undefined;

  const tmp = join(workDir, `${TMP_PREFIX}${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  let layer;
  try {
    layer = await runLayerWorker({ root, prefix: layerDir, file: tmp, gzipLevel }, { exclude: opts.exclude, signal: opts.signal });
    opts.signal?.throwIfAborted();
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  const file = `${layer.digest.slice('sha256:'.length)}${gzipLevel === null ? '.tar' : '.tar.gz'}`;
  try {
    await rename(tmp, join(workDir, file));
    return await finishImage(workDir, opts, { layer, file, mediaType: gzipLevel === null ? MediaType.LayerTar : MediaType.LayerGzip, layerDir, base });
  } catch (err) {
    // An abort (or a failure) after the layer was complete: leave no unmarked image behind.
    await rm(tmp, { force: true });
    await rm(join(workDir, file), { force: true });
    throw err;
  }
}

interface Built {
  layer: LayerResult;
  file: string;
  mediaType: string;
  layerDir: string;
  base: ResolvedBase | undefined;
}

async function finishImage(workDir: string, opts: BuildImageOptions, built: Built): Promise<BuiltImage> {
  const { layer, file, base } = built;
  const config = Buffer.from(imageConfigJson(opts, [layer.diffId], { layerDir: built.layerDir, ...(base ? { base: base.config } : {}) }));
  const configDigest = sha256(config);
  const baseLayers: BaseLayer[] = (base?.layers ?? []).map((l) => ({ ...l }));
  const manifest = Buffer.from(
    imageManifestJson(
      { mediaType: MediaType.Config, digest: configDigest, size: config.length },
      [...baseLayers, { mediaType: built.mediaType, digest: layer.digest, size: layer.size, annotations: { [LAYER_ANNOTATION]: APP_LAYER } }],
      base ? { [BASE_DIGEST_ANNOTATION]: base.digest } : {},
    ),
  );
  await writeFileAtomic(join(workDir, CONFIG_FILE), config.toString('utf8'));
  await writeFileAtomic(join(workDir, MANIFEST_FILE), manifest.toString('utf8'));
  const image: BuiltImage = {
    workDir,
    manifestDigest: sha256(manifest),
    manifestSize: manifest.length,
    mediaType: MediaType.Manifest,
    configDigest,
    configSize: config.length,
    layers: [{ digest: layer.digest, diffId: layer.diffId, size: layer.size, mediaType: built.mediaType, file }],
    ...(base ? { base: { repository: base.repository, digest: base.digest, layers: baseLayers } } : {}),
    bytes: layer.bytes,
    files: layer.files,
  };
  // Blobs of earlier builds in this work dir are no longer referenced.
  for (const name of await readdir(workDir)) {
    if (/^[a-f0-9]{64}\.tar(\.gz)?$/.test(name) && name !== file) await rm(join(workDir, name), { force: true });
  }
  opts.signal?.throwIfAborted();
  await writeFileAtomic(join(workDir, IMAGE_FILE), `${JSON.stringify(image, null, 2)}\n`);
  return image;
}

/**
 * The image built in `workDir`, when it is complete: image.json present, config and manifest
 * matching their digests, every layer file present with its size (a base's layers have no
 * file: their blobs are in the registry). Undefined otherwise (the build must be redone).
 */
export async function readBuiltImage(workDir: string): Promise<BuiltImage | undefined> {
  const dir = resolve(workDir);
  let image: BuiltImage;
  try {
    image = (await readJsonFile(join(dir, IMAGE_FILE))) as BuiltImage;
  } catch {
    return undefined;
  }
  if (!image || typeof image !== 'object' || !Array.isArray(image.layers)) return undefined;
  const same = async (file: string, digest: string, size: number): Promise<boolean> => {
    const bytes = await readFile(join(dir, file)).catch(() => undefined);
    return bytes !== undefined && bytes.length === size && sha256(bytes) === digest;
  };
  if (!(await same(CONFIG_FILE, image.configDigest, image.configSize))) return undefined;
  if (!(await same(MANIFEST_FILE, image.manifestDigest, image.manifestSize))) return undefined;
  if (image.base !== undefined) {
    const b = image.base as Partial<NonNullable<BuiltImage['base']>> | null;
    if (!b || typeof b.repository !== 'string' || !isDigest(b.digest) || !Array.isArray(b.layers) || !b.layers.every((l) => isDigest(l?.digest))) return undefined;
  }
  for (const l of image.layers) {
    if (typeof l.file !== 'string' || l.file.includes('/')) return undefined;
    const st = await stat(join(dir, l.file)).catch(() => undefined);
    if (!st?.isFile() || st.size !== l.size) return undefined;
  }
  return { ...image, workDir: dir };
}

/** Removes temp layer files of builds that were interrupted in this work dir. */
async function removeTemps(workDir: string): Promise<void> {
  for (const name of await readdir(workDir)) if (name.startsWith(TMP_PREFIX) && name.endsWith('.tmp')) await rm(join(workDir, name), { force: true });
}
