import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway redis-server on a free loopback port, nothing saved to disk: what the queue's tests
 * and `pnpm bench`'s queue benchmarks run against (Debian's redis-server, or $IPILAB_REDIS_SERVER).
 * Not for sweeps: those use a Redis the user runs (docs/scale-out.md).
 */

/** The redis-server started: $IPILAB_REDIS_SERVER, else redis-server on PATH. */
export const REDIS_SERVER = process.env['IPILAB_REDIS_SERVER'] ?? 'redis-server';

/** Why no local Redis can be started here (no redis-server), or undefined. */
export function redisServerMissing(): string | undefined {
  return spawnSync(REDIS_SERVER, ['--version']).error === undefined ? undefined : `${REDIS_SERVER} not found (apt-get install redis-server, or set IPILAB_REDIS_SERVER)`;
}

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

/** A local redis-server (LocalRedis.start). */
export class LocalRedis {
  private constructor(
    /** Its loopback port. */
    readonly port: number,
    private child: ChildProcess,
  ) {}

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts one on a free loopback port; resolves once it answers PING. */
  static async start(): Promise<LocalRedis> {
    const missing = redisServerMissing();
    if (missing !== undefined) throw new Error(`a local Redis is needed here: ${missing}`);
    const port = await freePort();
    const r = new LocalRedis(port, LocalRedis.spawn(port));
    await r.ready();
    return r;
  }

  private static spawn(port: number): ChildProcess {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-redis-'));
    const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--maxmemory-policy', 'noeviction', '--loglevel', 'warning', '--logfile', ''], { stdio: 'ignore' });
    // A process that started it and ends leaves no redis-server behind.
    const kill = (): void => void child.kill('SIGKILL');
    process.once('exit', kill);
    child.once('exit', () => process.removeListener('exit', kill));
    return child;
  }

  private async ready(): Promise<void> {
    const t0 = Date.now();
    while (!(await this.answers())) {
      if (this.child.exitCode !== null || Date.now() - t0 > 10_000) throw new Error(`redis-server did not start on port ${this.port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  private answers(): Promise<boolean> {
    return new Promise((resolve) => {
      const sock = connect(this.port, '127.0.0.1');
      sock.on('error', () => resolve(false));
      sock.on('data', (d: Buffer) => {
        resolve(d.toString().startsWith('+PONG'));
        sock.destroy();
      });
      sock.on('connect', () => sock.write('PING\r\n'));
    });
  }

  /** Kills it (-9, nothing saved) and starts an empty one on the same port: a restart without persistence. */
  async restart(): Promise<void> {
    await this.stop();
    this.child = LocalRedis.spawn(this.port);
    await this.ready();
  }

  /** Kills it and waits until it has gone. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const gone = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGKILL');
      await gone;
    }
  }
}
