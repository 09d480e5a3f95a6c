import { existsSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Io } from './commands';
import { EXIT } from './failure';
import { UsageError } from './usage-error';

/**
 * `--timeout`: a command that may not end (a plugin that loops, a model that runs away) run on a
 * worker thread the CLI can stop. The thread runs the same command line (`main`, told it is the
 * watchdog's, so it does not start another); what it prints comes back as messages and is
 * printed here, in order. When the time is up:
 * - a sweep is asked to stop as Ctrl-C stops it (it writes what finished, marked interrupted, and
 *   says how to resume) and given a few seconds to;
 * - anything else, or a sweep that does not stop, is stopped where it is (`Worker.terminate`: the
 *   thread ends at once, even in a loop); its temporary output files are removed.
 * Either way stderr gets one line naming the limit, and the exit code is 1. Ctrl-C and SIGTERM
 * reach a sweep's thread the same way; anything else is stopped at once, exit 130 or 143.
 */

/** Parses a wall-clock duration: `90s`, `10m`, `1.5h`, `500ms`, or a number of seconds. */
export function parseWallTime(flag: string, v: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim());
  const ms = m === null ? NaN : Number(m[1]) * { ms: 1, s: 1e3, m: 60e3, h: 3600e3 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  // setTimeout's range: about 24.8 days.
  if (!(ms > 0 && ms <= 2 ** 31 - 1)) throw new UsageError(`${flag}: expected a positive duration of at most 24 days, such as 90s, 10m or 1h, got ${JSON.stringify(v)}`);
  return ms;
}

/** How long a sweep gets to write what finished once its time is up (or after Ctrl-C), before it is stopped where it is. */
export const GRACE_MS = 5_000;

/** What a watchdog's thread sends back. */
export type WatchdogMessage = { readonly out: string } | { readonly err: string } | { readonly exit: number };

/** The compiled thread script: beside this file in dist/, or in dist/ when running from sources (tests). */
function workerFile(): string {
  const beside = resolve(__dirname, 'watchdog-worker.js');
  return existsSync(beside) ? beside : resolve(__dirname, '..', 'dist', 'watchdog-worker.js');
}

/** Temporary files this process left beside `paths` (OutputPlan names them `.<name>.<pid>.tmp`). */
function removeTemporaries(paths: readonly string[]): void {
  const mine = new RegExp(`^\\..*\\.${process.pid}\\.tmp$`);
  for (const dir of new Set(paths.map((p) => resolve(p)))) {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch {
      continue;
    }
    for (const n of names) if (mine.test(n)) rmSync(join(dir, n), { force: true });
  }
}

export interface WatchdogOptions {
  /** The command line, as main got it. */
  readonly argv: readonly string[];
  /** The command (for messages), and whether it stops gracefully when asked (sweep). */
  readonly command: 'run' | 'compare' | 'sweep' | 'trace';
  readonly timeoutMs: number;
  /** `--timeout` as given. */
  readonly shown: string;
  /** Directories the command may write into (the --out directory, the --html file's, the trace's). */
  readonly outputDirs: readonly string[];
}

/** Runs the command on a watched thread; resolves to its exit code (1 when its time ran out). */
export function underWatchdog(o: WatchdogOptions, io: Io): Promise<number> {
  const graceful = o.command === 'sweep';
  const tty = io.err.isTTY === true;
  const worker = new Worker(workerFile(), { workerData: { argv: [...o.argv], tty, columns: (io.err as { columns?: number }).columns } });
  return new Promise<number>((done) => {
    let finished = false;
    let timedOut = false;
    let signalled: 'SIGINT' | 'SIGTERM' | undefined;
    let grace: NodeJS.Timeout | undefined;
    const finish = (code: number | undefined): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(grace);
      process.removeListener('SIGINT', onInt);
      process.removeListener('SIGTERM', onTerm);
      void worker.terminate();
      if (code === undefined) {
        // Stopped where it was: its progress bar never gave the cursor back, its temporaries are left.
        if (tty) io.err.write('\x1b[?25h\n');
        removeTemporaries(o.outputDirs);
      }
      if (timedOut) {
        if (code === undefined) io.err.write(`ipilab: --timeout ${o.shown}: the ${o.command} did not finish within ${o.shown}; stopped, nothing written: a plugin or the model may not end, or the run needs longer (shorten run.duration, or raise --timeout)\n`);
        done(EXIT.runError);
        return;
      }
      if (code === undefined) {
        done(signalled === undefined ? EXIT.runError : 128 + (signalled === 'SIGINT' ? 2 : 15));
        return;
      }
      done(code);
    };
    /** Asks a sweep to stop as Ctrl-C does; stops anything else, or a sweep that has not stopped in time, at once. */
    const stop = (message: 'timeout' | 'SIGINT' | 'SIGTERM'): void => {
      if (!graceful) return finish(undefined);
      worker.postMessage(message);
      grace ??= setTimeout(() => finish(undefined), GRACE_MS);
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop('timeout');
    }, o.timeoutMs);
    const onInt = (): void => {
      signalled = 'SIGINT';
      stop('SIGINT');
    };
    const onTerm = (): void => {
      signalled = 'SIGTERM';
      stop('SIGTERM');
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    worker.on('message', (m: WatchdogMessage) => {
      if ('out' in m) io.out(m.out);
      else if ('err' in m) io.err.write(m.err);
      else finish(m.exit);
    });
    worker.on('error', (e) => {
      io.err.write(`ipilab: internal error: the watched thread failed: ${String((e as Error | undefined)?.message ?? e).split('\n')[0]}\n`);
      finish(EXIT.runError);
    });
    worker.on('exit', () => finish(undefined));
  });
}

/** The directories a command's outputs go to, from its flags. */
export function outputDirsOf(o: { readonly out?: string; readonly html?: string }, outIsFile: boolean): string[] {
  const dirs: string[] = [];
  if (o.out !== undefined) dirs.push(outIsFile ? dirname(o.out) : o.out);
  if (o.html !== undefined) dirs.push(dirname(o.html));
  return dirs;
}
