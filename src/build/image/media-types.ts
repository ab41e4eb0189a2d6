/**
 * OCI media types jetsaga writes, and the manifest types it accepts when reading (the Accept
 * list of manifest requests).
 */
export const MediaType = {
  Manifest: 'application/vnd.oci.image.manifest.v1+json',
  Index: 'application/vnd.oci.image.index.v1+json',
  Config: 'application/vnd.oci.image.config.v1+json',
  LayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  LayerTar: 'application/vnd.oci.image.layer.v1.tar',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;
export type MediaType = (typeof MediaType)[keyof typeof MediaType];

/** Accept header of manifest requests: every manifest kind a registry may hold. */
export const MANIFEST_ACCEPT = [MediaType.Manifest, MediaType.Index, MediaType.DockerManifest, MediaType.DockerManifestList].join(', ');

/** Whether a layer of this media type is gzipped. */
export function isGzipLayer(mediaType: string): boolean {
  return mediaType === MediaType.LayerGzip || mediaType === MediaType.DockerLayerGzip;
}
