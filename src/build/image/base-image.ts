/**
 * Reading a base image from the registry jetsaga pushes to (notes/oci.md §0.7): its manifest
 * (an OCI or Docker v2 image manifest, or an OCI index / Docker manifest list, from which the
 * linux/amd64 entry is taken), checked against its digest, and its config, checked too. The
 * result is what a build on top of it needs: the layer descriptors to reuse as they are, their
 * diffIDs, and the config to merge into (image-json.ts).
 *
 * Registry failures surface as the client raises them: REGISTRY_UNAVAILABLE (the build step
 * waits for the registry), REGISTRY_REJECTED for an unknown base (with a message naming it).
 */
import { InvalidArgumentError } from '../../errors.js';
import { isDigest, sha256 } from './digest.js';
import { LAYER_ANNOTATION, type BaseImageConfig, type Descriptor } from './image-json.js';
import { MediaType } from './media-types.js';
import type { RegistryClient } from './registry-client.js';
import { ImageCorruptError, RegistryRejectedError } from './registry-errors.js';
import { MAX_CONFIG_BYTES, parseJsonDoc, readSmallBlob } from './small-blob.js';

/** Which base image to build on: a repository of the same registry and a tag or digest in it. */
export interface BaseImageRef {
  /** e.g. 'library/node'. */
  repository: string;
  /** A tag ('20-slim') or a manifest digest ('sha256:…'). */
  reference: string;
  /** The registry that holds it, and that the image will be pushed to. */
  client: RegistryClient;
}

/** A base image as read from the registry. */
export interface ResolvedBase {
  repository: string;
  /** The digest of the image manifest used (for an index: of its linux/amd64 entry). */
  digest: string;
  /** Its layer descriptors, in order, with their diffIDs (`org.jetsaga.layer` dropped). */
  layers: (Descriptor & { diffId: string })[];
  /** Its config, parsed. */
  config: BaseImageConfig;
}

/** The platform jetsaga's images run on. */
const PLATFORM = { os: 'linux', architecture: 'amd64' } as const;

interface ManifestDoc {
  schemaVersion?: unknown;
  mediaType?: unknown;
  config?: { digest?: unknown; mediaType?: unknown; size?: unknown };
  layers?: unknown;
  manifests?: unknown;
}

interface IndexEntry {
  mediaType?: unknown;
  digest?: unknown;
  size?: unknown;
  platform?: { os?: unknown; architecture?: unknown; variant?: unknown };
}

/**
 * Reads the base image `ref` names: manifest (through an index to its linux/amd64 entry),
 * config, and the layers' diffIDs. IMAGE_CORRUPT when bytes do not match their digest;
 * INVALID_ARGUMENT naming the base for a manifest kind jetsaga cannot build on, an index with
 * no linux/amd64 image, or a config whose diffIDs do not match the layers.
 */
export async function resolveBaseImage(ref: BaseImageRef, signal?: AbortSignal): Promise<ResolvedBase> {
  const { client, repository } = ref;
  const name = baseName(repository, ref.reference);
  // By digest the client checks the bytes against it; by tag against Docker-Content-Digest.
  let manifest = await getManifest(client, repository, ref.reference, name, signal);
  let doc = parseJsonDoc<ManifestDoc>(manifest.bytes, `manifest of base image ${name}`);
  let kind = manifestKind(doc, manifest.mediaType);
  if (kind === MediaType.Index || kind === MediaType.DockerManifestList) {
    const entry = pickPlatform(doc, name);
    manifest = await getManifest(client, repository, entry.digest, name, signal);
    if (manifest.digest !== entry.digest) throw new ImageCorruptError(`linux/amd64 manifest of base image ${name}`, entry.digest, manifest.digest);
    doc = parseJsonDoc<ManifestDoc>(manifest.bytes, `linux/amd64 manifest of base image ${name}`);
    kind = manifestKind(doc, manifest.mediaType);
    if (kind !== MediaType.Manifest && kind !== MediaType.DockerManifest) {
      throw new InvalidArgumentError(`base image ${name}: its linux/amd64 entry is a ${kind || 'manifest of unknown type'}, not an image manifest`, { base: name });
    }
  } else if (kind !== MediaType.Manifest && kind !== MediaType.DockerManifest) {
    throw new InvalidArgumentError(
      `base image ${name} is a ${kind || 'manifest of unknown type'}; jetsaga builds on OCI or Docker v2 image manifests, or on an index with a linux/amd64 entry`,
      { base: name },
    );
  }

  const configDigest = doc.config?.digest;
  if (!isDigest(configDigest)) throw new InvalidArgumentError(`base image ${name}: manifest has no valid config digest`, { base: name });
  const configBytes = await readSmallBlob(await client.openBlob(repository, configDigest, signal), MAX_CONFIG_BYTES);
  const actual = sha256(configBytes);
  if (actual !== configDigest) throw new ImageCorruptError(`config of base image ${name}`, configDigest, actual);
  const config = parseJsonDoc<BaseImageConfig>(configBytes, `config of base image ${name}`);
  if (!config || typeof config !== 'object' || Array.isArray(config)) throw new InvalidArgumentError(`base image ${name}: config is not a JSON object`, { base: name });

  const descriptors = Array.isArray(doc.layers) ? (doc.layers as unknown[]) : [];
  const diffIds = Array.isArray(config.rootfs?.diff_ids) ? (config.rootfs.diff_ids as unknown[]) : [];
  if (diffIds.length !== descriptors.length) {
    throw new InvalidArgumentError(`base image ${name}: ${descriptors.length} layers in the manifest but ${diffIds.length} diffIDs in the config`, { base: name });
  }
  const layers = descriptors.map((d, i) => layerOf(d, diffIds[i], i, name));
  return { repository, digest: manifest.digest, layers, config };
}

/** `repo:tag` or `repo@sha256:…`, as people write image names. */
export function baseName(repository: string, reference: string): string {
  return isDigest(reference) ? `${repository}@${reference}` : `${repository}:${reference}`;
}

/**
 * The linux/amd64 image of an index or manifest list (the first such entry without a variant,
 * else the first such entry). INVALID_ARGUMENT naming the base when there is none.
 */
export function pickPlatform(doc: { manifests?: unknown }, name: string): { digest: string; mediaType: string } {
  const entries = (Array.isArray(doc.manifests) ? (doc.manifests as unknown[]) : []).filter(
    (e): e is IndexEntry => e !== null && typeof e === 'object' && isDigest((e as IndexEntry).digest),
  );
  const matches = entries.filter((e) => e.platform?.os === PLATFORM.os && e.platform?.architecture === PLATFORM.architecture);
  const entry = matches.find((e) => e.platform?.variant === undefined) ?? matches[0];
  if (!entry) {
    const have = entries.map((e) => `${String(e.platform?.os ?? '?')}/${String(e.platform?.architecture ?? '?')}`).join(', ');
    throw new InvalidArgumentError(`base image ${name} is an index with no ${PLATFORM.os}/${PLATFORM.architecture} image (it has: ${have || 'none'})`, { base: name });
  }
  return { digest: entry.digest as string, mediaType: typeof entry.mediaType === 'string' ? entry.mediaType : '' };
}

/** The manifest's kind: its own `mediaType` field, else the Content-Type it was served with. */
function manifestKind(doc: ManifestDoc, served: string): string {
  if (typeof doc.mediaType === 'string' && doc.mediaType) return doc.mediaType;
  // An OCI index or manifest may omit mediaType; tell them apart by shape.
  if (served) return served;
  if (Array.isArray(doc.manifests)) return MediaType.Index;
  return doc.schemaVersion === 2 && doc.config ? MediaType.Manifest : '';
}

function layerOf(d: unknown, diffId: unknown, i: number, name: string): Descriptor & { diffId: string } {
  const l = (d ?? {}) as { mediaType?: unknown; digest?: unknown; size?: unknown; annotations?: unknown };
  if (typeof l.mediaType !== 'string' || !isDigest(l.digest) || typeof l.size !== 'number' || !Number.isSafeInteger(l.size) || l.size < 0 || !isDigest(diffId)) {
    throw new InvalidArgumentError(`base image ${name}: layer ${i} has no valid media type, digest, size or diffID`, { base: name });
  }
  const out: Descriptor & { diffId: string } = { mediaType: l.mediaType, digest: l.digest, size: l.size, diffId };
  // Other annotations stay; a base built by jetsaga marks its own layer as the app, which it is
  // not in the image built on top.
  if (l.annotations && typeof l.annotations === 'object') {
    const kept = Object.entries(l.annotations as Record<string, unknown>).filter(
      (e): e is [string, string] => e[0] !== LAYER_ANNOTATION && typeof e[1] === 'string',
    );
    if (kept.length > 0) out.annotations = Object.fromEntries(kept);
  }
  return out;
}

/** The client's getManifest, with a 404 turned into a message that names the base. */
async function getManifest(client: RegistryClient, repo: string, ref: string, name: string, signal: AbortSignal | undefined): Promise<{ digest: string; mediaType: string; bytes: Uint8Array }> {
  try {
    return await client.getManifest(repo, ref, signal);
  } catch (err) {
    if (err instanceof RegistryRejectedError && err.exchange.status === 404) {
      throw new RegistryRejectedError(err.exchange, `base image ${name} not found in ${client.host}`);
    }
    throw err;
  }
}
