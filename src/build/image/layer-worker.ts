/**
 * Entry point of the layer worker thread: walks the tree, lets the parent apply its `exclude`
 * (a function cannot cross threads, so the parent is sent the walked paths and answers with
 * what to keep), writes the layer and posts the result. See layer-thread.ts for the protocol.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { writeLayer, type LayerJob } from './layer-writer.js';
import { walkTree, type WalkEntry } from './tree-walk.js';
import type { FromLayerWorker, LayerWorkerData, ToLayerWorker } from './layer-protocol.js';

const port = parentPort!;
const data = workerData as LayerWorkerData;

function post(message: FromLayerWorker): void {
  port.postMessage(message);
}

function keepList(entries: readonly WalkEntry[]): Promise<WalkEntry[]> {
  return new Promise((resolve) => {
    port.once('message', (m: ToLayerWorker) => resolve(entries.filter((_, i) => m.keep[i] === 1)));
    post({ type: 'walked', paths: entries.map((e) => e.rel), dirs: entries.map((e) => (e.kind === 'dir' ? 1 : 0)) });
  });
}

async function main(job: LayerJob): Promise<void> {
  let entries = walkTree(job.root);
  if (data.filter) entries = await keepList(entries);
  const result = await writeLayer(job, entries);
  post({ type: 'done', result });
}

main(data.job).catch((err: unknown) => {
  const e = err instanceof Error ? err : new Error(String(err));
  post({ type: 'failed', message: e.message, code: (e as NodeJS.ErrnoException).code, stack: e.stack });
});
