import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalRedis, redisServerMissing } from '../src/local-redis';

/**
 * Real parts for the queue's tests: a redis-server (Debian's package) on a free loopback port,
 * and ipilab processes (workers, coordinators) whose stderr the test reads as it comes.
 */

/** The CLI's entry, built (tests run the CLI as users do). */
export const IPILAB = join(__dirname, '..', '..', 'cli', 'bin', 'ipilab.js');
export const FIXTURES = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures');
export const SMALL = join(FIXTURES, 'small.yaml');

/** A process whose stderr and stdout are kept, with a way to wait for a line. */
export class Proc {
  err = '';
  out = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  constructor(readonly child: ChildProcess) {
    child.stderr?.setEncoding('utf8').on('data', (s: string) => (this.err += s));
    child.stdout?.setEncoding('utf8').on('data', (s: string) => (this.out += s));
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  }

  /** Resolves once stderr matches `re` (its match), rejects after `ms` with what stderr had. */
  async waitFor(re: RegExp, ms = 30_000): Promise<RegExpMatchArray> {
    const t0 = Date.now();
    for (;;) {
      const m = re.exec(this.err);
      if (m !== null) return m;
      if (Date.now() - t0 > ms) throw new Error(`waited ${ms} ms for ${re} in stderr:\n${this.err}`);
      if (this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before ${re} in stderr:\n${this.err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Every match of `re` (global) in stderr. */
  count(re: RegExp): number {
    return [...this.err.matchAll(new RegExp(re.source, 'g'))].length;
  }
}

/** A redis-server for one test file: the queue's LocalRedis, failing with what CI must install when there is none. */
export const RedisServer = {
  start: async (): Promise<LocalRedis> => {
    const missing = redisServerMissing();
    if (missing !== undefined) throw new Error(`the queue's tests need a real Redis: ${missing}; CI installs Debian's redis-server (.ci/run)`);
    return LocalRedis.start();
  },
};

/** Runs `ipilab args...` as a process (stderr and stdout kept). */
export function ipilab(args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  return new Proc(spawn(process.execPath, [IPILAB, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } }));
}

/** A worker process with its own plugin cache. */
export function worker(url: string, ...args: string[]): Proc {
  return ipilab(['worker', '--queue', url, ...args], { IPILAB_CACHE_DIR: mkdtempSync(join(tmpdir(), 'ipilab-cache-')) });
}

/** Stops processes and waits for them to end. */
export async function stopAll(procs: readonly Proc[], signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill(signal);
  await Promise.all(procs.map((p) => p.exited));
}
