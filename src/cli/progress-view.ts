/**
 * How a followed build (or any kit saga with progress) is shown. Piped or redirected: plain
 * lines, one per phase, output line and error — stable for scripts and logs. On a terminal: a
 * progress bar of the forward steps entered so far (cli-progress) with the current phase, the
 * output lines scrolling above it, and colour unless NO_COLOR is set.
 */
import cliProgress from 'cli-progress';
import type { ProgressRecord } from '../build/progress.js';
import { colourEnabled, palette, type Palette } from './colour.js';
import { stateNames } from './progress-steps.js';

export interface ProgressView {
  /** One progress record of the followed saga. */
  record(p: ProgressRecord): void;
  /** A line of the follower's own (a coordinator lost or back, a hint). */
  note(line: string): void;
  /** Leaves the terminal as it was (bar ended, cursor back). Idempotent. */
  close(): void;
}

export interface ProgressViewOptions {
  /** Where lines go when no bar is drawn (stderr in the CLI). */
  readonly err: (line: string) => void;
  /** The saga's forward steps (progress-steps.ts); without them no bar is drawn. */
  readonly steps?: readonly string[];
  readonly stream?: NodeJS.WriteStream;
  readonly env?: NodeJS.ProcessEnv;
}

export function createProgressView(options: ProgressViewOptions): ProgressView {
  const stream = options.stream ?? process.stderr;
  const colours = palette(colourEnabled(stream, options.env));
  if (stream.isTTY !== true || !options.steps || options.steps.length === 0) return plainView(options.err, colours);
  return barView(stream, options.steps, colours);
}

/** The line a record prints as, or undefined for records that print nothing. */
export function recordLine(p: ProgressRecord, colours: Palette = palette(false)): string | undefined {
  if (p.kind === 'phase') return `  ${p.status === 'compensating' ? colours.warn(p.phase) : p.phase}`;
  if (p.kind === 'log') return colours.dim(`    ${p.text}`);
  if (p.kind === 'error') return colours.fail(`  ${p.step} failed: ${p.message} [${p.code}]`);
  return undefined;
}

function plainView(err: (line: string) => void, colours: Palette): ProgressView {
  return {
    record(p) {
      const line = recordLine(p, colours);
      if (line !== undefined) err(line);
    },
    note: err,
    close() {},
  };
}

function barView(stream: NodeJS.WriteStream, steps: readonly string[], colours: Palette): ProgressView {
  const known = new Set(steps);
  const entered = new Set<string>();
  const bars = new cliProgress.MultiBar(
    {
      stream,
      format: ` {bar} {value}/{total} {phase}`,
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      // Redraws are cheap but not free; onbuild output can be chatty.
      fps: 10,
      barsize: 30,
    },
    cliProgress.Presets.shades_classic,
  );
  const bar = bars.create(steps.length, 0, { phase: 'starting' });
  let closed = false;
  const log = (line: string): void => {
    if (closed) {
      stream.write(`${line}\n`);
      return;
    }
    // Logged lines wait for the next redraw; redraw now so output is never late (or lost).
    bars.log(`${line}\n`);
    bars.update();
  };
  return {
    record(p) {
      if (closed) return;
      if (p.kind === 'phase') {
        for (const name of stateNames(p.state)) if (known.has(name)) entered.add(name);
        const phase = p.status === 'compensating' ? colours.warn(`rolling back: ${p.phase}`) : p.phase;
        bar.update(p.status === 'completed' ? steps.length : entered.size, { phase });
        return;
      }
      if (p.kind === 'result') {
        bar.update({ phase: p.status === 'completed' ? colours.ok(p.status) : colours.fail(p.status) });
        return;
      }
      const line = recordLine(p, colours);
      if (line !== undefined) log(line);
    },
    note: log,
    close() {
      if (closed) return;
      closed = true;
      bars.update();
      bars.stop();
    },
  };
}
