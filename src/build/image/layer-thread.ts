/**
 * Runs layer-writer.ts in a worker thread, so that tar and gzip of a large tree never block
 * the coordinator's event loop (which keeps driving other sagas meanwhile). An abort
 * terminates the worker; the caller removes the partial file.
 *
 * From the TypeScript sources (tests, tsx) the worker is started through tsx's ESM loader; from
 * compiled JavaScript it is the sibling `.js` file.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { FromLayerWorker, LayerWorkerData, ToLayerWorker } from './layer-protocol.js';
import type { LayerJob, LayerResult } from './layer-writer.js';

/** Writes the layer of `job` in a worker; `exclude` is applied to the walked relative paths. */
export function runLayerWorker(job: LayerJob, opts: { exclude?: (relPath: string) => boolean; signal?: AbortSignal } = {}): Promise<LayerResult> {
  const { signal, exclude } = opts;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const data: LayerWorkerData = { job, filter: exclude !== undefined };
  const worker = startWorker(data);
  return new Promise<LayerResult>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      fn();
    };
    const onAbort = (): void => {
      // terminate() resolves once the thread is gone, so the file is closed when we reject.
      void worker.terminate().finally(() => finish(() => reject(signal!.reason)));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (m: FromLayerWorker) => {
      if (m.type === 'walked') {
        const answer: ToLayerWorker = { keep: keepMask(m.paths, m.dirs, exclude!) };
        worker.postMessage(answer);
      } else if (m.type === 'done') {
        finish(() => resolve(m.result));
        void worker.terminate();
      } else {
        const err = Object.assign(new Error(m.message), m.code ? { code: m.code } : {});
        if (m.stack) err.stack = m.stack;
        finish(() => reject(err));
        void worker.terminate();
      }
    });
    worker.on('error', (err) => finish(() => reject(err)));
    worker.on('exit', (code) => finish(() => reject(signal?.aborted ? signal.reason : new Error(`the layer worker exited (code ${code}) before it finished`))));
  });
}

/** 1 for each kept path; everything below an excluded directory is left out with it. */
function keepMask(paths: readonly string[], dirs: readonly number[], exclude: (relPath: string) => boolean): Uint8Array {
  const keep = new Uint8Array(paths.length);
  let dropped: string | undefined;
  paths.forEach((p, i) => {
    if (dropped !== undefined && p.startsWith(dropped)) return;
    dropped = undefined;
    if (exclude(p)) {
      if (dirs[i] === 1) dropped = `${p}/`;
      return;
    }
    keep[i] = 1;
  });
  return keep;
}

function startWorker(data: LayerWorkerData): Worker {
  const self = import.meta.url;
  if (!self.endsWith('.ts')) return new Worker(new URL('./layer-worker.js', self), { workerData: data });
  const tsxDir = dirname(createRequire(self).resolve('tsx/package.json'));
  const api = pathToFileURL(join(tsxDir, 'dist/esm/api/index.mjs')).href;
  const entry = new URL('./layer-worker.ts', self).href;
  const code = `import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(code, { eval: true, workerData: data });
}
