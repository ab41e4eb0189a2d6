/**
 * Machine charts, laid out once per machine version. A layout takes ELK seconds for a machine
 * like the build saga, so it is computed only when a chart is first asked for, and concurrent
 * askers share the one in flight; a failed layout is forgotten so that the next ask tries again.
 */
import { layoutGraph } from '../../viz/layout.js';
import { renderSvg } from '../../viz/svg.js';
import type { MachineGraph } from '../../viz/graph-types.js';
import type { MachineChart, MachineSummary } from '../api-types.js';

/** More machine versions than a page shows in a session: the oldest laid out are dropped. */
const MAX_CHARTS = 64;

export class ChartCache {
  readonly #charts = new Map<string, Promise<MachineChart>>();

  /** The chart of `summary` (`id@version`), laying out `graph` the first time. */
  chart(summary: MachineSummary, graph: MachineGraph): Promise<MachineChart> {
    const key = `${summary.id}@${summary.version}`;
    const known = this.#charts.get(key);
    if (known) return known;
    const made = (async (): Promise<MachineChart> => {
      const layout = await layoutGraph(graph);
      return { id: summary.id, version: summary.version, description: summary.description, graph, layout, svg: renderSvg(layout) };
    })();
    this.#charts.set(key, made);
    made.catch(() => this.#charts.delete(key));
    while (this.#charts.size > MAX_CHARTS) this.#charts.delete(this.#charts.keys().next().value!);
    return made;
  }
}
