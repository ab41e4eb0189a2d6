/**
 * A tiny metrics registry with the Prometheus text exposition (format 0.0.4): counters, gauges
 * and histograms with labels. Written here rather than taken from prom-client, which is not a
 * dependency: the format is a few lines of text, and jetsaga needs no more than this.
 */

export type Labels = Readonly<Record<string, string>>;

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  lines(): string[];
  json(): unknown;
}

function labelKey(labels: Labels): string {
  return JSON.stringify(Object.keys(labels).sort().map((k) => [k, labels[k]]));
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function renderLabels(labels: Labels, extra?: [string, string]): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k]!)}"`);
  if (extra) parts.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function num(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return Number.isNaN(v) ? 'NaN' : String(v);
}

/** A value per label set. */
class Series<T> {
  readonly values = new Map<string, { labels: Labels; value: T }>();
  constructor(private readonly init: () => T) {}
  get(labels: Labels): { labels: Labels; value: T } {
    const key = labelKey(labels);
    let s = this.values.get(key);
    if (!s) this.values.set(key, (s = { labels: { ...labels }, value: this.init() }));
    return s;
  }
}

export class Counter implements Family {
  readonly type = 'counter';
  private readonly series = new Series(() => 0);
  constructor(readonly name: string, readonly help: string) {}
  inc(labels: Labels = {}, by = 1): void {
    this.series.get(labels).value += by;
  }
  value(labels: Labels = {}): number {
    return this.series.values.get(labelKey(labels))?.value ?? 0;
  }
  lines(): string[] {
    return [...this.series.values.values()].map((s) => `${this.name}${renderLabels(s.labels)} ${num(s.value)}`);
  }
  json(): unknown {
    return [...this.series.values.values()].map((s) => ({ labels: s.labels, value: s.value }));
  }
}

export class Gauge implements Family {
  readonly type = 'gauge';
  private series = new Series(() => 0);
  constructor(readonly name: string, readonly help: string) {}
  set(value: number, labels: Labels = {}): void {
    this.series.get(labels).value = value;
  }
  inc(labels: Labels = {}, by = 1): void {
    this.series.get(labels).value += by;
  }
  dec(labels: Labels = {}, by = 1): void {
    this.series.get(labels).value -= by;
  }
  value(labels: Labels = {}): number {
    return this.series.values.get(labelKey(labels))?.value ?? 0;
  }
  /** Forgets every label set (for gauges recomputed whole, where a set may disappear). */
  reset(): void {
    this.series = new Series(() => 0);
  }
  lines(): string[] {
    return [...this.series.values.values()].map((s) => `${this.name}${renderLabels(s.labels)} ${num(s.value)}`);
  }
  json(): unknown {
    return [...this.series.values.values()].map((s) => ({ labels: s.labels, value: s.value }));
  }
}

interface HistogramState {
  readonly counts: number[];
  sum: number;
  count: number;
}

export class Histogram implements Family {
  readonly type = 'histogram';
  private readonly series: Series<HistogramState>;
  /** Upper bounds in seconds, increasing; `+Inf` is implied. */
  constructor(readonly name: string, readonly help: string, readonly buckets: readonly number[]) {
    this.series = new Series(() => ({ counts: buckets.map(() => 0), sum: 0, count: 0 }));
  }
  observe(value: number, labels: Labels = {}): void {
    const s = this.series.get(labels).value;
    s.sum += value;
    s.count++;
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
  }
  count(labels: Labels = {}): number {
    return this.series.values.get(labelKey(labels))?.value.count ?? 0;
  }
  lines(): string[] {
    const out: string[] = [];
    for (const { labels, value } of this.series.values.values()) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${renderLabels(labels, ['le', num(b)])} ${value.counts[i]}`));
      out.push(`${this.name}_bucket${renderLabels(labels, ['le', '+Inf'])} ${value.count}`);
      out.push(`${this.name}_sum${renderLabels(labels)} ${num(value.sum)}`);
      out.push(`${this.name}_count${renderLabels(labels)} ${value.count}`);
    }
    return out;
  }
  json(): unknown {
    return [...this.series.values.values()].map(({ labels, value }) => ({
      labels,
      count: value.count,
      sum: value.sum,
      buckets: Object.fromEntries(this.buckets.map((b, i) => [num(b), value.counts[i]])),
    }));
  }
}

export class MetricsRegistry {
  private readonly families: Family[] = [];

  counter(name: string, help: string): Counter {
    return this.add(new Counter(name, help));
  }
  gauge(name: string, help: string): Gauge {
    return this.add(new Gauge(name, help));
  }
  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, buckets));
  }

  /** The Prometheus text exposition of every family. */
  render(): string {
    const out: string[] = [];
    for (const f of this.families) {
      out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${f.type}`, ...f.lines());
    }
    return `${out.join('\n')}\n`;
  }

  /** The same figures as JSON (for `$SRV.STATS`): name → { type, help, series }. */
  toJSON(): Record<string, { type: string; help: string; series: unknown }> {
    return Object.fromEntries(this.families.map((f) => [f.name, { type: f.type, help: f.help, series: f.json() }]));
  }

  private add<F extends Family>(f: F): F {
    this.families.push(f);
    return f;
  }
}

/** The content type of the text exposition. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
