import { Queue, QueueEvents, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { SweepExecutor, SweepHooks, SweepPlan, SweepTaskResult } from '@ipilab/scenario';
import { packPlugin, type PluginBundle } from './plugins';
import { ANNOUNCE, jobId, pluginKey, PREFIX, PROTOCOL, queueName, refusalsKey, REGISTRY, sweepKey, versionShown, type IpilabVersion, type PluginRef, type QueuedRun, type RunReturn } from './protocol';
import { QueueUsageError, watchConnection, type QueueUrl } from './url';

/** How long a queued sweep's records (runs, results, shipped plugins) stay in Redis without a coordinator (docs/scale-out.md). */
export const KEEP_SECONDS = 7 * 24 * 3600;

/** Jobs added to Redis per round trip. */
const ADD_BATCH = 500;

/** How a coordinator queues a sweep. */
export interface QueueExecutorOptions {
  readonly url: QueueUrl;
  /** A connection from connectQueue (checked): the executor duplicates it for its subscriptions and never closes it. */
  readonly connection: Redis;
  /** The ipilab queuing the runs: workers of another refuse them. */
  readonly ipilab: IpilabVersion;
  /** Collect the results an earlier coordinator of the same sweep left in Redis, and queue only the missing runs. */
  readonly resume: boolean;
  /** Lines for the user (stderr): what was queued, workers awaited, refusals. */
  readonly notice: (line: string) => void;
  /** How often the coordinator looks at the queue besides its events (ms; default 1000). */
  readonly pollMs?: number;
}

/** What the coordinator knows once a sweep's runs were collected (or it stopped). */
export interface QueuedSweep {
  /** The queue's name (the sweep's). */
  readonly queue: string;
  /** Runs found finished in Redis when the coordinator started (resume). */
  readonly found: number;
  /** Runs this coordinator queued. */
  readonly queued: number;
  /** Runs an earlier coordinator queued that were still waiting or under way (resume): not queued again. */
  readonly pending: number;
}

/**
 * A sweep executor over a BullMQ queue: every run the plan has still to run becomes a job (its
 * point, seed, the resolved scenario and the plugins it names, the ipilab version), in the plan's
 * order, so workers take the longest first; results come back by the queue's events, and a scan
 * of the finished jobs catches any event missed. The job ids are the runs' (p<point>-s<seed>),
 * so queuing a run twice is a no-op: that is how `--resume` queues only the missing runs.
 *
 * On abort (Ctrl-C) the runs not yet taken are removed from the queue and the sweep is withdrawn
 * from the workers; runs under way finish on their workers and stay in Redis for `--resume`.
 * `finish()`, called once the outputs are written, removes the sweep from Redis.
 */
export class QueueExecutor implements SweepExecutor {
  private sweep: QueuedSweep | undefined;

  constructor(private readonly o: QueueExecutorOptions) {}

  /** The queued sweep (after execute). */
  get queued(): QueuedSweep | undefined {
    return this.sweep;
  }

  async execute(plan: SweepPlan, hooks: SweepHooks, signal?: AbortSignal): Promise<{ workers: number }> {
    const o = this.o;
    const name = queueName(plan);
    // Plugins are packed before anything is queued: one too big is the user's to fix, and costs nothing.
    const { refs, bundles } = packAll(plan);
    const queue = new Queue<QueuedRun, RunReturn>(name, { connection: o.connection, prefix: PREFIX, defaultJobOptions: { attempts: 1, removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS } } });
    queue.on('error', () => undefined);
    let events: QueueEvents | undefined;
    // QueueEvents blocks on its connection: its own, closed here (BullMQ leaves a connection it was given open).
    const eventsConnection = o.connection.duplicate();
    eventsConnection.on('error', () => undefined);
    const workers = new Set<string>();
    const taskOf = new Map(plan.tasks.map((t) => [jobId(t.point, t.seed), t]));
    const want = new Set(plan.order.map((k) => jobId(plan.tasks[k]!.point, plan.tasks[k]!.seed)));
    const got = new Set<string>();
    // Aborted when the last run reports: the wait below ends then, not at its next look.
    const allIn = new AbortController();
    const report = (id: string, r: SweepTaskResult): void => {
      if (!want.has(id) || got.has(id)) return;
      got.add(id);
      hooks.onResult(r);
      if (got.size === want.size) allIn.abort();
    };
    const completed = (id: string, ret: RunReturn | undefined): void => {
      if (ret === undefined || typeof ret !== 'object' || ret.result === undefined) return;
      workers.add(ret.worker);
      report(id, ret.result);
    };
    const failed = (id: string, reason: string): void => {
      const at = taskOf.get(id);
      if (at === undefined) return;
      // A job fails only when the queue gave up on it: its worker died or stopped answering more
      // often than the queue retakes a run (a run's own error is a result, not a failure).
      report(id, { point: at.point, seed: at.seed, error: /stalled/i.test(reason) ? `lost by its worker too often (died, or stopped answering): ${reason}` : reason });
    };
    const unwatch = watchConnection(o.connection, o.url, o.notice);
    try {
      const counts = await queue.getJobCounts('completed', 'failed', 'active', 'wait', 'delayed', 'prioritized', 'waiting-children');
      const earlier = Object.values(counts).reduce((a, b) => a + b, 0);
      if (earlier > 0 && !o.resume) {
        const done = (counts['completed'] ?? 0) + (counts['failed'] ?? 0);
        throw new QueueUsageError(
          `--queue ${o.url.shown}: the queue ${name} holds this sweep from an earlier coordinator (${done} of its runs done, ${earlier - done} queued or running): add --resume to collect them and queue only the missing runs`,
        );
      }
      const r = o.connection;
      // Subscribed before anything is queued, so no result is missed between the two.
      events = new QueueEvents(name, { connection: eventsConnection, prefix: PREFIX });
      events.on('error', () => undefined);
      events.on('completed', ({ jobId: id, returnvalue }) => completed(id, (typeof returnvalue === 'string' ? safeParse(returnvalue) : returnvalue) as RunReturn | undefined));
      events.on('failed', ({ jobId: id, failedReason }) => failed(id, failedReason));
      events.on('active', ({ jobId: id }) => {
        const t = taskOf.get(id);
        if (t !== undefined && want.has(id) && !got.has(id)) hooks.onStart(t);
      });
      await events.waitUntilReady();
      const queuedAt = Number((await r.hget(sweepKey(name), 'queuedAt')) ?? Date.now());
      /**
       * Puts the sweep in Redis: its plugins, its record and its place among the sweeps (what
       * workers look at), and every run not reported and not waiting or under way. Done at the
       * start, and again if Redis lost the queue (a restart without persistence).
       */
      const publish = async (): Promise<{ pending: number; queued: number }> => {
        for (const b of bundles.values()) await r.set(pluginKey(b.sha256), b.data, 'EX', KEEP_SECONDS);
        await r.multi().hset(sweepKey(name), { ipilab: JSON.stringify(o.ipilab), runs: String(plan.tasks.length), queuedAt: String(queuedAt), scenario: plan.name }).expire(sweepKey(name), KEEP_SECONDS).zadd(REGISTRY, queuedAt, name).exec();
        // Runs an earlier coordinator queued that are still waiting or under way are left as they are.
        const pending = new Set(await queue.getRanges(['wait', 'active', 'delayed', 'prioritized', 'waiting-children']));
        // Finished in Redis but not reported yet (its event on its way): not missing either.
        const finished = new Set(await queue.getRanges(['completed', 'failed']));
        let queued = 0;
        const missing = plan.order.filter((k) => {
          const id = jobId(plan.tasks[k]!.point, plan.tasks[k]!.seed);
          return !got.has(id) && !pending.has(id) && !finished.has(id);
        });
        for (let i = 0; i < missing.length && signal?.aborted !== true; i += ADD_BATCH) {
          const batch = missing.slice(i, i + ADD_BATCH).map((k) => {
            const t = plan.tasks[k]!;
            const data: QueuedRun = { protocol: PROTOCOL, ipilab: o.ipilab, params: plan.points[t.point]!, point: t.point, seed: t.seed, loaded: t.loaded, plugins: refs.get(t.point) ?? [] };
            return { name: 'run', data, opts: { jobId: jobId(t.point, t.seed) } };
          });
          await queue.addBulk(batch);
          queued += batch.length;
        }
        await r.publish(ANNOUNCE, name);
        return { pending: pending.size, queued };
      };
      await r.del(refusalsKey(name));
      // Results already in Redis (an earlier coordinator's), then the runs still missing.
      const found = await this.scan(queue, completed, failed);
      const { pending, queued } = await publish();
      this.sweep = { queue: name, found, queued, pending };
      const earlierRuns = [found > 0 ? `${found} of ${plan.tasks.length} runs already done` : '', pending > 0 ? `${pending} waiting or under way` : ''].filter((x) => x !== '');
      o.notice(`queue ${name} on ${o.url.shown}: ${earlierRuns.length > 0 ? `${earlierRuns.join(', ')}, ` : ''}${queued} run(s) queued for workers (ipilab worker --queue ${o.url.shown})`);
      // Redis lost runs (restarted without persistence) when it holds fewer of the sweep's runs than are not reported yet.
      const repair = async (): Promise<void> => {
        const held = Object.values(await queue.getJobCounts('wait', 'active', 'delayed', 'prioritized', 'waiting-children')).reduce((a, b) => a + b, 0);
        if (held >= want.size - got.size) return;
        const again = await publish();
        if (again.queued > 0) o.notice(`Redis lost ${again.queued} of this sweep's runs (restarted without persistence?): queued again`);
      };
      await this.await(queue, name, want, got, () => this.scan(queue, completed, failed), repair, signal === undefined ? allIn.signal : AbortSignal.any([signal, allIn.signal]));
      if (signal?.aborted === true && got.size < want.size) await this.withdraw(queue, name);
      else await r.zrem(REGISTRY, name);
      return { workers: workers.size };
    } finally {
      unwatch();
      await events?.close().catch(() => undefined);
      eventsConnection.disconnect();
      await queue.close().catch(() => undefined);
    }
  }

  /** Every finished job in the queue, reported; resolves to how many there were. */
  private async scan(queue: Queue<QueuedRun, RunReturn>, completed: (id: string, r: RunReturn | undefined) => void, failed: (id: string, reason: string) => void): Promise<number> {
    let n = 0;
    for (const state of ['completed', 'failed'] as const) {
      for (let start = 0; ; start += 1000) {
        const jobs: Job<QueuedRun, RunReturn>[] = await queue.getJobs([state], start, start + 999, true);
        for (const j of jobs) {
          if (j?.id === undefined) continue;
          n++;
          if (state === 'completed') completed(j.id, j.returnvalue);
          else failed(j.id, j.failedReason);
        }
        if (jobs.length < 1000) break;
      }
    }
    return n;
  }

  /**
   * Waits until every wanted run has reported or `signal` aborts, looking at the queue every
   * pollMs: a count of finished jobs above what was reported means an event was missed (a
   * scan finds it); every tenth look, runs Redis lost are queued again (`repair`); no worker for
   * a while gets one line saying how to start one; each worker that refuses the sweep (another
   * ipilab) gets one line.
   */
  private async await(queue: Queue<QueuedRun, RunReturn>, name: string, want: ReadonlySet<string>, got: ReadonlySet<string>, rescan: () => Promise<number>, repair: () => Promise<void>, signal?: AbortSignal): Promise<void> {
    const o = this.o;
    const every = o.pollMs ?? 1000;
    const told = new Set<string>();
    let idleLooks = 0;
    let looks = 0;
    let saidIdle = false;
    // A function: an await between two reads can change what it reads.
    const over = (): boolean => got.size >= want.size || signal?.aborted === true;
    while (!over()) {
      await sleep(every, signal);
      if (over()) return;
      const c = await queue.getJobCounts('completed', 'failed');
      if ((c['completed'] ?? 0) + (c['failed'] ?? 0) > got.size) await rescan();
      if (++looks % 10 === 0) await repair();
      const refusals = await o.connection.hgetall(refusalsKey(name));
      for (const [w, line] of Object.entries(refusals)) {
        if (told.has(w)) continue;
        told.add(w);
        o.notice(`worker ${w} refused this sweep's runs: ${line}`);
      }
      const workers = await queue.getWorkersCount().catch(() => 1);
      idleLooks = workers === 0 ? idleLooks + 1 : 0;
      if (idleLooks * every >= 5_000 && !saidIdle) {
        saidIdle = true;
        o.notice(`no worker serves ${name} yet: start one on any machine that has this ipilab (${versionShown(o.ipilab)}) with: ipilab worker --queue ${o.url.shown}`);
      }
    }
  }

  /** Ctrl-C: the runs not taken are removed and workers stop taking this sweep; the finished ones stay for --resume. */
  private async withdraw(queue: Queue<QueuedRun, RunReturn>, name: string): Promise<void> {
    await queue.drain(true);
    await this.o.connection.multi().zrem(REGISTRY, name).exec();
  }

  /** Once the outputs are written: the sweep's jobs and records leave Redis (its shipped plugins expire on their own). */
  async finish(): Promise<void> {
    if (this.sweep === undefined) return;
    const { queue: name } = this.sweep;
    const queue = new Queue(name, { connection: this.o.connection, prefix: PREFIX });
    queue.on('error', () => undefined);
    try {
      await queue.obliterate({ force: true });
      await this.o.connection.multi().zrem(REGISTRY, name).del(sweepKey(name), refusalsKey(name)).exec();
    } finally {
      await queue.close();
    }
  }
}

/** Every point's plugins packed: the refs each point's jobs carry, and the bundles to store (once each). */
function packAll(plan: SweepPlan): { refs: Map<number, PluginRef[]>; bundles: Map<string, PluginBundle> } {
  const refs = new Map<number, PluginRef[]>();
  const bundles = new Map<string, PluginBundle>();
  const memo = new Map<string, ReturnType<typeof packPlugin>>();
  for (const t of plan.tasks) {
    if (refs.has(t.point)) continue;
    const list = t.loaded.scenario.plugins.map((spec, i) => {
      const k = `${t.loaded.dir}\0${spec}\0${i}`;
      let p = memo.get(k);
      if (p === undefined) memo.set(k, (p = packPlugin(i, spec, t.loaded.dir)));
      if (p.bundle !== undefined) bundles.set(p.bundle.sha256, p.bundle);
      return p.ref;
    });
    refs.set(t.point, list);
  }
  return { refs, bundles };
}

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted === true) return resolve();
    const t = setTimeout(done, ms);
    function done(): void {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
