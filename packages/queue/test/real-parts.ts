import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Real parts for the queue's tests: a redis-server (Debian's package) on a free loopback port,
 * and ipilab processes (workers, coordinators) whose stderr the test reads as it comes.
 */

/** The redis-server the tests start: $IPILAB_REDIS_SERVER, else redis-server on PATH. */
export const REDIS_SERVER = process.env['IPILAB_REDIS_SERVER'] ?? 'redis-server';

/** The CLI's entry, built (tests run the CLI as users do). */
export const IPILAB = join(__dirname, '..', '..', 'cli', 'bin', 'ipilab.js');
export const FIXTURES = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures');
export const SMALL = join(FIXTURES, 'small.yaml');

/** A port nobody listens on now (the kernel's pick). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

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

/** A redis-server for one test file. */
export class RedisServer {
  private constructor(
    readonly port: number,
    private proc: Proc,
  ) {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts one on a free loopback port, nothing saved to disk; resolves once it accepts connections. */
  static async start(): Promise<RedisServer> {
    if (spawnSync(REDIS_SERVER, ['--version']).error !== undefined)
      throw new Error(`${REDIS_SERVER} not found: the queue's tests need a real Redis; CI installs Debian's redis-server (.ci/run), or apt-get install redis-server, or set IPILAB_REDIS_SERVER`);
    const port = await freePort();
    const s = new RedisServer(port, RedisServer.spawn(port));
    await s.ready();
    return s;
  }

  private static spawn(port: number): Proc {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-redis-'));
    return new Proc(spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction', '--loglevel', 'warning', '--logfile', ''], { stdio: ['ignore', 'pipe', 'pipe'] }));
  }

  private async ready(): Promise<void> {
    const t0 = Date.now();
    while (!(await this.answers())) {
      if (this.proc.child.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`redis-server did not start on port ${this.port}: ${this.proc.out}${this.proc.err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Kills it (-9, nothing saved) and starts an empty one on the same port: a restart without persistence. */
  async restart(): Promise<void> {
    this.proc.child.kill('SIGKILL');
    await this.proc.exited;
    this.proc = RedisServer.spawn(this.port);
    await this.ready();
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = require('node:net').connect(this.port, '127.0.0.1') as import('node:net').Socket;
      sock.on('error', () => resolve(false));
      sock.on('data', (d: Buffer) => {
        resolve(d.toString().startsWith('+PONG'));
        sock.destroy();
      });
      sock.on('connect', () => sock.write('PING\r\n'));
    });
  }

  async stop(): Promise<void> {
    this.proc.child.kill('SIGKILL');
    await this.proc.exited;
  }
}

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
