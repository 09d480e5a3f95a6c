import { hostname } from 'node:os';
import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { runOnSweepThread, type SweepTaskResult } from '@ipilab/scenario';
import { sleep } from './coordinator';
import { localScenario, unpackedBundle } from './plugins';
import { ANNOUNCE, pluginKey, PREFIX, PROTOCOL, refusalsKey, REGISTRY, sameIpilab, sweepKey, versionShown, type IpilabVersion, type QueuedRun, type RunReturn } from './protocol';
import { watchConnection, type QueueUrl } from './url';

/** How a worker runs. */
export interface QueueWorkerOptions {
  readonly url: QueueUrl;
  /** A connection from connectQueue (checked); the worker duplicates it and never closes it. */
  readonly connection: Redis;
  /** This worker's ipilab: it refuses runs queued by another. */
  readonly ipilab: IpilabVersion;
  /** Runs at once (worker threads). */
  readonly concurrency: number;
  /**
   * A run whose worker has not renewed its hold for this long is given to another worker (ms;
   * BullMQ's lockDuration; the stalled check runs at half of it). Default 30 s, BullMQ's.
   */
  readonly stalledAfterMs?: number;
  /** Lines for the worker's log (stderr). */
  readonly log: (line: string) => void;
  /**
   * Aborted: take no more runs, finish those under way, return. (To stop at once, end the process:
   * its runs under way go to other workers once their hold lapses.)
   */
  readonly stop: AbortSignal;
  /** Where shipped plugins are unpacked (default: cacheDir()). */
  readonly cacheDir?: string;
  /** How often the worker looks for sweeps (ms; default 1000). */
  readonly pollMs?: number;
  /** Stop once no sweep has had a run for this worker for this long (ms): a worker started as a batch job ends when the work does. Default: never. */
  readonly idleExitMs?: number;
}

/** `error` with each plugin's path on this worker replaced by the plugin as the scenario wrote it. */
function asWritten(error: string, here: readonly string[], written: readonly string[]): string {
  let e = error;
  here.forEach((p, i) => {
    const w = written[i];
    if (w !== undefined && p !== w) e = e.split(p).join(w);
  });
  return e;
}

/** How many times a run may be lost by a worker (its worker died, or stopped answering) and be taken again, before it counts as failed. */
export const MAX_STALLED = 2;

/**
 * A worker: serves the queued sweeps one at a time, oldest first, `concurrency` runs at once on
 * worker threads (the same ones a local sweep uses, so a run gives the same figures here). A
 * sweep queued by another ipilab is refused with one line, here and on its coordinator. A run's
 * own error is its result (reported once by the coordinator, never retried); a run whose worker
 * dies goes back to the queue (BullMQ's stalled-job check) up to MAX_STALLED times. Resolves
 * with the runs done once `stop` aborts and the runs under way are finished.
 */
export async function runQueueWorker(o: QueueWorkerOptions): Promise<{ runs: number }> {
  const me = `${hostname()}:${process.pid}`;
  const r = o.connection;
  const refused = new Set<string>();
  const queues = new Map<string, Queue>();
  const queueOf = (name: string): Queue => {
    let q = queues.get(name);
    if (q === undefined) {
      q = new Queue(name, { connection: r, prefix: PREFIX });
      q.on('error', () => undefined);
      queues.set(name, q);
    }
    return q;
  };
  let runs = 0;
  // A sweep announced wakes an idle worker at once; the look every pollMs is for one announced before it listened.
  let woken = new AbortController();
  /** Ends the current wait for something to happen (a sweep announced, a run finished, the queue drained). */
  const wakeUp = (): void => {
    const w = woken;
    woken = new AbortController();
    w.abort();
  };
  const listener = r.duplicate();
  listener.on('error', () => undefined);
  listener.on('message', wakeUp);
  await listener.subscribe(ANNOUNCE);
  const unwatch = watchConnection(r, o.url, (line) => o.log(`ipilab worker ${me}: ${line}`));
  o.log(`ipilab worker ${me}: serving ${o.url.shown} with ${o.concurrency} run(s) at once (ipilab ${versionShown(o.ipilab)})`);
  // Wall-clock time, not the model's: how long this worker has had nothing to run.
  let idleSince = performance.now();
  try {
    while (!o.stop.aborted) {
      const name = await nextSweep();
      if (name === undefined) {
        const idle = performance.now() - idleSince;
        if (o.idleExitMs !== undefined && idle >= o.idleExitMs) {
          o.log(`ipilab worker ${me}: no runs to take for ${(idle / 1000).toFixed(0)} s (--exit-when-idle): stopping`);
          break;
        }
        await sleep(Math.min(o.pollMs ?? 1000, o.idleExitMs === undefined ? Infinity : Math.max(10, o.idleExitMs - idle)), AbortSignal.any([o.stop, woken.signal]));
        continue;
      }
      runs += await serve(name);
      idleSince = performance.now();
    }
  } finally {
    unwatch();
    listener.disconnect();
    await Promise.all([...queues.values()].map((q) => q.close().catch(() => undefined)));
  }
  o.log(`ipilab worker ${me}: stopped after ${runs} run(s)`);
  return { runs };

  /** The oldest queued sweep this worker may run that has runs waiting or under way. */
  async function nextSweep(): Promise<string | undefined> {
    for (const name of await r.zrange(REGISTRY, 0, -1)) {
      if (refused.has(name)) continue;
      const rec = await r.hget(sweepKey(name), 'ipilab');
      if (rec === null) {
        // Its record expired (a coordinator gone for KEEP_SECONDS): nobody will collect it.
        await r.zrem(REGISTRY, name);
        continue;
      }
      const theirs = JSON.parse(rec) as IpilabVersion;
      if (!sameIpilab(o.ipilab, theirs)) {
        refuse(name, theirs);
        continue;
      }
      const c = await queueOf(name).getJobCounts('wait', 'prioritized', 'delayed', 'active');
      if (Object.values(c).some((n) => n > 0)) return name;
    }
    return undefined;
  }

  function refuse(name: string, theirs: IpilabVersion): void {
    if (refused.has(name)) return;
    refused.add(name);
    const line = `it was queued by ipilab ${versionShown(theirs)}, this worker runs ipilab ${versionShown(o.ipilab)}: run the same ipilab on both`;
    o.log(`ipilab worker ${me}: refusing the runs of ${name}: ${line}`);
    void r.hset(refusalsKey(name), me, line).catch(() => undefined);
  }

  /**
   * Serves one sweep until it has no run waiting nor under way (anywhere: staying, this worker's
   * stalled check can give a dead worker's runs back), it is withdrawn, this worker refuses it,
   * or the worker is stopped. Resolves to the runs this worker finished.
   */
  async function serve(name: string): Promise<number> {
    let done = 0;
    let refusing = false;
    const lock = o.stalledAfterMs ?? 30_000;
    const worker = new Worker<QueuedRun, RunReturn>(
      name,
      async (job: Job<QueuedRun, RunReturn>, token?: string, signal?: AbortSignal): Promise<RunReturn> => {
        const d = job.data;
        if (d.protocol !== PROTOCOL || !sameIpilab(o.ipilab, d.ipilab)) {
          // Refused: the run goes back to the queue for a worker of its ipilab, and this one leaves the sweep.
          refusing = true;
          refuse(name, d.ipilab ?? { version: `protocol ${d.protocol}` });
          await job.moveToDelayed(Date.now() + 1000, token);
          throw new DelayedError();
        }
        const shown = `${name} point ${JSON.stringify(d.params)} seed ${d.seed}`;
        o.log(`ipilab worker ${me}: started ${shown}`);
        const t0 = performance.now();
        let result: SweepTaskResult;
        let here: readonly string[] = [];
        try {
          const loaded = await localScenario(d.loaded, d.plugins, (sha) => unpackedBundle(sha, () => r.getBuffer(pluginKey(sha)), o.cacheDir), [process.cwd(), __dirname]);
          here = loaded.scenario.plugins;
          result = await runOnSweepThread({ loaded, seed: d.seed, point: d.point }, o.concurrency, signal);
        } catch (e) {
          // Stopped (Ctrl-C twice): the run is lost here, not failed; the queue gives it to another worker.
          if (signal?.aborted === true) throw e;
          result = { point: d.point, seed: d.seed, error: String((e as Error | undefined)?.message ?? e).split('\n')[0]! };
        }
        // A plugin is named as the scenario names it, not by where this worker unpacked it.
        if (result.error !== undefined) result = { ...result, error: asWritten(result.error, here, d.loaded.scenario.plugins) };
        done++;
        o.log(`ipilab worker ${me}: ${result.error === undefined ? 'finished' : `failed (${result.error})`} ${shown} in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
        return { result, worker: me };
      },
      { connection: r, prefix: PREFIX, name: me, concurrency: o.concurrency, lockDuration: lock, stalledInterval: Math.max(500, Math.floor(lock / 2)), maxStalledCount: MAX_STALLED, drainDelay: 1 },
    );
    worker.on('error', () => undefined);
    // The sweep may be over as soon as a run ends or the queue empties: looked at then, not at the next poll.
    worker.on('completed', wakeUp);
    worker.on('failed', wakeUp);
    worker.on('drained', wakeUp);
    o.log(`ipilab worker ${me}: taking runs of ${name}`);
    let over = false;
    while (!o.stop.aborted && !refusing) {
      await sleep(o.pollMs ?? 1000, AbortSignal.any([o.stop, woken.signal]));
      if ((await r.zscore(REGISTRY, name)) === null) break;
      const c = await queueOf(name).getJobCounts('wait', 'prioritized', 'delayed', 'active');
      if (Object.values(c).every((n) => n === 0)) {
        over = true;
        break;
      }
    }
    // Runs under way finish first: their results are the sweep's. With none anywhere, nothing is
    // waited for (a graceful close waits out the worker's long poll for jobs, up to a second,
    // which the next sweep would wait too).
    await worker.close(over);
    return done;
  }
}
