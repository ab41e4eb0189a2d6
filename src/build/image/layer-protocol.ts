/** Messages between buildImage's thread and the layer worker (structured-clone safe). */
import type { LayerJob, LayerResult } from './layer-writer.js';

export interface LayerWorkerData {
  readonly job: LayerJob;
  /** Whether the parent filters the walked paths (it has an `exclude`). */
  readonly filter: boolean;
}

export type FromLayerWorker =
  | { type: 'walked'; paths: string[]; dirs: number[] }
  | { type: 'done'; result: LayerResult }
  | { type: 'failed'; message: string; code: string | undefined; stack: string | undefined };

/** The parent's answer to 'walked': 1 per path kept, 0 per path left out. */
export interface ToLayerWorker {
  keep: Uint8Array;
}
