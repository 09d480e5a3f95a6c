import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SweepExecutor } from '@ipilab/scenario';

/**
 * The queue benchmark's parts: a redis-server on a free loopback port and `workers` worker
 * processes (each one run at a time), started once per bench process and stopped when it exits.
 * The coordinator is the bench process itself, through the same QueueExecutor `ipilab sweep
 * --queue` uses; the workers run the same runQueueWorker as `ipilab worker`.
 */

/** What the bench's coordinator and its workers call their ipilab (they must agree; nothing else checks it here). */
export const BENCH_IPILAB = { version: 'bench' } as const;

interface Parts {
  readonly url: string;
  readonly connection: Awaited<ReturnType<typeof import('@ipilab/queue').connectQueue>>;
}

let parts: Promise<Parts> | undefined;
const children: ChildProcess[] = [];
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

/** Why the queue benchmarks cannot run here (no redis-server), or undefined. */
export function redisMissing(): string | undefined {
  return (require('@ipilab/queue') as typeof import('@ipilab/queue')).redisServerMissing();
}

/** Starts Redis and the workers (once): resolves when every worker serves the queue. */
export function queueParts(workers: number): Promise<Parts> {
  parts ??= (async (): Promise<Parts> => {
    const q = require('@ipilab/queue') as typeof import('@ipilab/queue');
    // The queue's own throwaway Redis (killed when this process exits).
    const redis = await q.LocalRedis.start();
    const url = q.parseQueueUrl(redis.url);
    const connection = await q.connectQueue(url);
    const ready: Promise<void>[] = [];
    for (let i = 0; i < workers; i++) {
      const w = spawn(process.execPath, [join(__dirname, 'queue-worker.js'), url.text], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, IPILAB_CACHE_DIR: mkdtempSync(join(tmpdir(), 'ipilab-bench-cache-')) } });
      children.push(w);
      ready.push(
        new Promise((resolve, reject) => {
          let err = '';
          w.stderr!.setEncoding('utf8').on('data', (s: string) => {
            err += s;
            if (err.includes('serving')) resolve();
          });
          w.on('exit', (code) => reject(new Error(`a queue worker exited (${code}): ${err}`)));
        }),
      );
    }
    await Promise.all(ready);
    return { url: url.text, connection };
  })();
  return parts;
}

/** An executor over the bench's queue; `done()` clears the sweep from Redis, as `ipilab sweep` does once its outputs are written. */
export async function benchQueueExecutor(workers: number): Promise<{ executor: SweepExecutor; done: () => Promise<void> }> {
  const q = require('@ipilab/queue') as typeof import('@ipilab/queue');
  const p = await queueParts(workers);
  const executor = new q.QueueExecutor({ url: q.parseQueueUrl(p.url), connection: p.connection, ipilab: BENCH_IPILAB, resume: false, notice: () => undefined });
  return { executor, done: () => executor.finish() };
}
