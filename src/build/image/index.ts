/**
 * Container images without a daemon: build a reproducible OCI image of a staged app dir in a
 * worker thread, push it to a registry over HTTP (undici), and pull it back by digest. See
 * notes/oci.md for the measurements behind the choices (gzip level 1, file-first uploads).
 */
export { buildImage, readBuiltImage, CONFIG_FILE, IMAGE_FILE, MANIFEST_FILE, type BaseLayer, type BuildImageOptions, type BuiltImage } from './build-image.js';
export { baseName, pickPlatform, resolveBaseImage, type BaseImageRef, type ResolvedBase } from './base-image.js';
export { pushImage, type PushResult } from './push-image.js';
export { pullImage, type PulledImage, type PullImageOptions } from './pull-image.js';
export { RegistryClient, type RegistryClientOptions } from './registry-client.js';
export { isDigest, sha256 } from './digest.js';
export { ImageCorruptError, RegistryRejectedError, RegistryUnavailableError, type RegistryExchange } from './registry-errors.js';
export { MediaType, MANIFEST_ACCEPT, isGzipLayer } from './media-types.js';
export {
  APP_LAYER,
  BASE_DIGEST_ANNOTATION,
  IMAGE_CREATED,
  LAYER_ANNOTATION,
  envList,
  imageConfigJson,
  imageManifestJson,
  mergeEnv,
  type BaseImageConfig,
  type Descriptor,
  type ImageConfigExtras,
  type ImageRuntimeConfig,
} from './image-json.js';
export { appRepository, versionTag } from './repository.js';
