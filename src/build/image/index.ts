/**
 * Container images without a daemon: build a reproducible OCI image of a staged app dir in a
 * worker thread, push it to a registry over HTTP (undici), and pull it back by digest. See
 * notes/oci.md for the measurements behind the choices (gzip level 1, file-first uploads).
 */
export { buildImage, readBuiltImage, CONFIG_FILE, IMAGE_FILE, MANIFEST_FILE, type BuildImageOptions, type BuiltImage } from './build-image.js';
export { pushImage, type PushResult } from './push-image.js';
export { pullImage, type PulledImage } from './pull-image.js';
export { RegistryClient, type RegistryClientOptions } from './registry-client.js';
export { isDigest, sha256 } from './digest.js';
export { ImageCorruptError, RegistryRejectedError, RegistryUnavailableError, type RegistryExchange } from './registry-errors.js';
export { MediaType, MANIFEST_ACCEPT, isGzipLayer } from './media-types.js';
export { IMAGE_CREATED, envList, imageConfigJson, imageManifestJson, type Descriptor, type ImageRuntimeConfig } from './image-json.js';
export { appRepository, versionTag } from './repository.js';
