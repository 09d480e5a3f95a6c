import type { SingleBar } from 'cli-progress';
import type { RunProgress } from '@ipilab/scenario';

/** Where progress goes: stderr, or a fake terminal in tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(s: string): boolean;
}

/** A wall clock in ms (performance.now by default). Only the CLI reads it; the model never does. */
export type WallClock = () => number;

/** Below this, a run ends before a bar is worth drawing: short commands print nothing extra. */
const DELAY_MS = 400;

/**
 * A progress bar for long runs on stderr: the share done, the simulated time reached, events per
 * second and the time left. Drawn only on a terminal and only once a run has lasted DELAY_MS; it
 * is erased when the run ends, so what stays on the screen is the results. It only watches: the
 * run is sliced the same with or without it (RunOptions.onProgress), so the output is the same.
 */
export class ProgressView {
  private bar: SingleBar | undefined;
  private drawn = false;
  private readonly started: number;

  constructor(
    private readonly label: string,
    private readonly stream: ProgressStream,
    private readonly clock: WallClock = () => performance.now(),
  ) {
    this.started = clock();
  }

  /** `fraction` of all the work done (0-1), `events` processed so far in all, `detail` to show. */
  update(fraction: number, events: number, detail: string): void {
    const elapsed = this.clock() - this.started;
    if (this.bar === undefined) {
      if (elapsed < DELAY_MS) return;
      const { SingleBar: Bar } = require('cli-progress') as typeof import('cli-progress');
      this.bar = new Bar({
        stream: this.stream as NodeJS.WritableStream,
        format: `${this.label} [{bar}] {percentage}% | {detail} | {rate} events/s | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        barsize: 20,
      });
    }
    const value = Math.min(1000, Math.round(fraction * 1000));
    const payload = { detail, rate: compact(elapsed > 0 ? (events * 1000) / elapsed : 0) };
    // The first frame is drawn by start, with the values of now; later ones by update, at most ~5 per second.
    if (!this.drawn) {
      this.bar.start(1000, value, payload);
      this.drawn = true;
    } else {
      this.bar.update(value, payload);
    }
  }

  /** Erases the bar (if one was drawn). */
  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
    this.drawn = false;
  }
}

/** A view on stderr when it is a terminal; nothing when it is piped or redirected. */
export function progressOn(label: string, stream: ProgressStream = process.stderr, clock?: WallClock): ProgressView | undefined {
  return stream.isTTY === true ? new ProgressView(label, stream, clock) : undefined;
}

/** 1234567 -> "1.23 M". */
export function compact(x: number): string {
  if (x >= 1e9) return `${(x / 1e9).toFixed(2)} G`;
  if (x >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (x >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return x.toFixed(0);
}

/** "12.5 of 40.0 ms simulated" for one run, in its unit. */
export function simulatedText(p: RunProgress): string {
  const [div, unit] = p.durationNs >= 1e9 ? [1e9, 's'] : p.durationNs >= 1e6 ? [1e6, 'ms'] : [1e3, 'us'];
  const runs = p.runs > 1 ? ` (run ${p.run} of ${p.runs}: ${p.run === 1 ? 'the scenario' : 'a baseline'})` : '';
  return `${(p.simulatedNs / div).toFixed(1)} of ${(p.durationNs / div).toFixed(1)} ${unit} simulated${runs}`;
}

/**
 * Feeds a view from runs' progress: `done` runs of `total` finished before this one (compare),
 * each run with its baselines counting as equal work; events add up across all of them.
 */
export function tally(view: ProgressView): (done: number, total: number, p: RunProgress, prefix?: string) => void {
  let before = 0;
  let current = '';
  let last = 0;
  return (done, total, p, prefix = '') => {
    const key = `${done}/${p.run}`;
    if (key !== current) {
      before += last;
      current = key;
    }
    last = p.events;
    const within = (p.run - 1 + Math.min(1, p.simulatedNs / p.durationNs)) / p.runs;
    view.update((done + within) / total, before + p.events, `${prefix}${simulatedText(p)}`);
  };
}
