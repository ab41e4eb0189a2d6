/**
 * Pushes a built image from its work dir. Each blob is HEADed first and uploaded from its file
 * only when missing; the manifest is PUT only when the tag does not already name it. So a
 * re-push of an unchanged image costs three HEADs and no bytes (notes/oci.md §0.5), and a push
 * interrupted anywhere can simply be run again.
 *
 * An image built on a base image has no files for the base's layers: each is HEADed in the
 * target repository and, when missing, mounted from the base's repository (a cross-repository
 * mount: no bytes sent). A registry that no longer holds a base layer fails the push with
 * REGISTRY_REJECTED: the image must be rebuilt on a base that is there.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CONFIG_FILE, MANIFEST_FILE, type BuiltImage } from './build-image.js';
import { ImageCorruptError, RegistryRejectedError } from './registry-errors.js';
import { sha256 } from './digest.js';
import type { RegistryClient } from './registry-client.js';

/** What a push did. */
export interface PushResult {
  repository: string;
  tag?: string;
  /** The manifest digest. */
  digest: string;
  /** `${host}/${repo}@${digest}`: what a container runtime pulls. */
  reference: string;
  /** Blobs uploaded (0 when the registry had them all). */
  uploaded: number;
  /** Blobs the registry already had. */
  skipped: number;
  /** Base layers mounted from the base image's repository (no bytes sent). */
  mounted: number;
}

/**
 * Pushes `image` to `repo`, tagged `opts.tag` when given (else stored by digest only).
 * Registry failures are REGISTRY_UNAVAILABLE (retryable) or REGISTRY_REJECTED.
 *
 * @example
 * const pushed = await pushImage(client, image, appRepository('web'), { tag: versionTag(3) });
 * // pushed.reference === 'cluster.local:5000/apps/web@sha256:…'
 */
export async function pushImage(client: RegistryClient, image: BuiltImage, repo: string, opts: { tag?: string; signal?: AbortSignal } = {}): Promise<PushResult> {
  const { signal } = opts;
  const manifest = await readFile(join(image.workDir, MANIFEST_FILE));
  const actual = sha256(manifest);
  if (actual !== image.manifestDigest) throw new ImageCorruptError(`manifest file in ${image.workDir}`, image.manifestDigest, actual);
  const base = image.base;
  const blobs: { digest: string; size: number; file?: string }[] = [
    { digest: image.configDigest, size: image.configSize, file: CONFIG_FILE },
    ...(base?.layers ?? []).map((l) => ({ digest: l.digest, size: l.size })),
    ...image.layers.map((l) => ({ digest: l.digest, size: l.size, file: l.file })),
  ];
  let uploaded = 0;
  let skipped = 0;
  let mounted = 0;
  for (const b of blobs) {
    if (await client.blobExists(repo, b.digest, signal)) {
      skipped++;
      continue;
    }
    if (b.file !== undefined) {
      await client.uploadBlobFile(repo, b.digest, join(image.workDir, b.file), b.size, signal);
      uploaded++;
      continue;
    }
    // A base layer (only images with a base have file-less blobs).
    if (!base || !(await client.mountBlob(repo, b.digest, base.repository, signal))) {
      throw new RegistryRejectedError(
        { registry: client.url, method: 'POST', path: `/v2/${repo}/blobs/uploads/`, status: 202 },
        `base layer ${b.digest} of ${base?.repository ?? 'the base image'}@${base?.digest ?? '?'} is not in the registry (the cross-repository mount found nothing); rebuild the image on a base the registry holds`,
      );
    }
    mounted++;
  }
  const ref = opts.tag ?? image.manifestDigest;
  if ((await client.headManifest(repo, ref, signal)) !== image.manifestDigest) {
    await client.putManifest(repo, ref, manifest, image.mediaType, signal);
  }
  return {
    repository: repo,
    ...(opts.tag === undefined ? {} : { tag: opts.tag }),
    digest: image.manifestDigest,
    reference: `${client.host}/${repo}@${image.manifestDigest}`,
    uploaded,
    skipped,
    mounted,
  };
}
