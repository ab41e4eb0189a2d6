import { describe, expect, it } from 'vitest';
import { envList, imageConfigJson, imageManifestJson, sha256 } from '../../src/build/image/index.js';

const diffId = sha256(Buffer.from('tar'));

describe('image config and manifest JSON', () => {
  it('is canonical: the same settings in another key order give the same bytes', () => {
    const a = imageConfigJson({ env: { B: '2', A: '1' }, labels: { y: '1', x: '2' }, cmd: ['a'] }, [diffId]);
    const b = imageConfigJson({ cmd: ['a'], labels: { x: '2', y: '1' }, env: { A: '1', B: '2' } }, [diffId]);
    expect(a).toBe(b);
    expect(a).toBe(
      `{"architecture":"amd64","config":{"Cmd":["a"],"Env":["A=1","B=2"],"Labels":{"x":"2","y":"1"},"WorkingDir":"/app"},` +
        `"created":"1970-01-01T00:00:00Z","history":[{"created":"1970-01-01T00:00:00Z","created_by":"jetsaga: COPY . /app"}],` +
        `"os":"linux","rootfs":{"diff_ids":["${diffId}"],"type":"layers"}}`,
    );
  });

  it('sorts Env by the bytes of the keys, and leaves out empty Env and Labels', () => {
    expect(envList({ b: '1', B: '2', Ä: '3', A_B: '4' })).toEqual(['A_B=4', 'B=2', 'b=1', 'Ä=3']);
    const config = JSON.parse(imageConfigJson({ env: {}, labels: {}, workingDir: '/srv' }, [diffId]));
    expect(config.config).toEqual({ WorkingDir: '/srv' });
  });

  it('writes an OCI manifest with schemaVersion 2', () => {
    const m = JSON.parse(
      imageManifestJson({ mediaType: 'application/vnd.oci.image.config.v1+json', digest: diffId, size: 10 }, [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: diffId, size: 20 },
      ]),
    );
    expect(m).toEqual({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: diffId, size: 10 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: diffId, size: 20 }],
    });
  });
});
