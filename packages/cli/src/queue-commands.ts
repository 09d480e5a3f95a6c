import type { QueueExecutor, QueueUrl } from '@ipilab/queue';
import type { SweepExecutor } from '@ipilab/scenario';
import type { Io } from './commands';
import { UsageError } from './usage-error';
import { toolVersion } from './version';
import { parseWallTime } from './watchdog';

// The queue package loads BullMQ and ioredis: only when a command uses --queue.
type QueuePackage = typeof import('@ipilab/queue');
const queuePackage = (): QueuePackage => require('@ipilab/queue') as QueuePackage;

/** A queue package error about the user's input becomes the CLI's (one line, exit 2). */
async function asUsage<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof queuePackage().QueueUsageError) throw new UsageError(e.message);
    throw e;
  }
}

/** `--queue URL`, parsed (one line, exit 2, for a bad one). */
export function queueFlag(text: string, flag = '--queue'): QueueUrl {
  const q = queuePackage();
  try {
    return q.parseQueueUrl(text, flag);
  } catch (e) {
    if (e instanceof q.QueueUsageError) throw new UsageError(e.message);
    throw e;
  }
}

/** A sweep's queue, connected and checked. */
export interface QueuedSetup {
  readonly connection: Awaited<ReturnType<QueuePackage['connectQueue']>>;
  readonly queue: QueueExecutor;
  readonly url: QueueUrl;
  /** The queue's executor, its problems about the user's input (an unfinished sweep, a plugin too big) made the CLI's (exit 2). */
  readonly executor: SweepExecutor;
}

/** Connects to the queue (exit 2 within seconds when it cannot) and makes the sweep's executor. */
export async function queueExecutor(url: QueueUrl, resume: boolean, io: Io): Promise<QueuedSetup> {
  const q = queuePackage();
  const connection = await asUsage(() => q.connectQueue(url));
  const queue = new q.QueueExecutor({ url, connection, ipilab: toolVersion(), resume, notice: (line) => void io.err.write(`ipilab: ${line}\n`) });
  return { connection, queue, url, executor: { execute: (plan, hooks, signal) => asUsage(() => queue.execute(plan, hooks, signal)) } };
}

/** `ipilab worker` flags. */
export interface WorkerFlags {
  readonly queue: string;
  readonly concurrency?: string;
  readonly stalledAfter?: string;
  readonly exitWhenIdle?: string;
}

/**
 * `ipilab worker --queue URL`: takes queued sweeps' runs until stopped. Ctrl-C (or SIGTERM) once:
 * no more runs are taken, those under way finish and are reported, exit 0. Twice: the process
 * ends at once, as a signal ends it (130, 143), as a sweep does on a second Ctrl-C; its runs under
 * way go to other workers once the queue sees them stalled.
 */
export async function workerCommand(o: WorkerFlags, io: Io): Promise<void> {
  const url = queueFlag(o.queue);
  let concurrency = 1;
  if (o.concurrency !== undefined) {
    concurrency = Number(o.concurrency);
    if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 1024) throw new UsageError(`--concurrency: expected a whole number of runs at once from 1 to 1024, got ${JSON.stringify(o.concurrency)}`);
  }
  const stalledAfterMs = o.stalledAfter === undefined ? undefined : parseWallTime('--stalled-after', o.stalledAfter);
  if (stalledAfterMs !== undefined && stalledAfterMs < 1000) throw new UsageError(`--stalled-after: expected at least 1s (a worker renews its hold at half of it), got ${JSON.stringify(o.stalledAfter)}`);
  const idleExitMs = o.exitWhenIdle === undefined ? undefined : parseWallTime('--exit-when-idle', o.exitWhenIdle);
  const q = queuePackage();
  const connection = await asUsage(() => q.connectQueue(url));
  const stop = new AbortController();
  // The first signal asks for a graceful stop; with the handlers gone, a second one ends the
  // process as signals do.
  const onSignal = (sig: 'SIGINT' | 'SIGTERM') => (): void => {
    process.removeListener('SIGINT', handlers.SIGINT);
    process.removeListener('SIGTERM', handlers.SIGTERM);
    io.err.write(`ipilab: worker stopping: no more runs taken, the runs under way finish first (${sig} again to stop at once)\n`);
    stop.abort();
  };
  const handlers = { SIGINT: onSignal('SIGINT'), SIGTERM: onSignal('SIGTERM') };
  process.once('SIGINT', handlers.SIGINT);
  process.once('SIGTERM', handlers.SIGTERM);
  try {
    await q.runQueueWorker({
      url,
      connection,
      ipilab: toolVersion(),
      concurrency,
      ...(stalledAfterMs === undefined ? {} : { stalledAfterMs }),
      ...(idleExitMs === undefined ? {} : { idleExitMs }),
      log: (line) => void io.err.write(`${line}\n`),
      stop: stop.signal,
    });
  } finally {
    process.removeListener('SIGINT', handlers.SIGINT);
    process.removeListener('SIGTERM', handlers.SIGTERM);
    connection.disconnect();
    await (require('@ipilab/scenario') as typeof import('@ipilab/scenario')).closeSweepWorkers();
  }
}

/** `ipilab sweeps` flags. */
export interface SweepsFlags {
  readonly queue: string;
  readonly json?: boolean;
  readonly drop?: string;
}

/**
 * `ipilab sweeps --queue URL`: the sweeps that Redis holds (queued, or left unfinished), with their
 * runs waiting, running, done and failed, and the workers on them; `--drop NAME` removes one for
 * good (an abandoned sweep).
 */
export async function sweepsCommand(o: SweepsFlags, io: Io): Promise<void> {
  const url = queueFlag(o.queue);
  const q = queuePackage();
  const connection = await asUsage(() => q.connectQueue(url));
  try {
    if (o.drop !== undefined) {
      if (!(await q.dropSweep(connection, o.drop))) {
        const known = (await q.sweepStatuses(connection)).map((s) => s.queue);
        throw new UsageError(`--drop ${o.drop}: Redis at ${url.shown} holds no such sweep; ${known.length === 0 ? 'it holds none' : `it holds ${known.join(', ')}`}`);
      }
      io.err.write(`ipilab: dropped ${o.drop} from ${url.shown}\n`);
      return;
    }
    const all = await q.sweepStatuses(connection);
    if (o.json === true) {
      io.out(`${JSON.stringify({ queue: url.shown, sweeps: all }, null, 2)}\n`);
      return;
    }
    if (all.length === 0) {
      io.out(`no sweeps in ${url.shown}\n`);
      return;
    }
    const Table = require('cli-table3') as typeof import('cli-table3');
    const head = ['queue', 'scenario', 'state', 'queued at (UTC)', 'ipilab', 'runs', 'waiting', 'running', 'done', 'failed', 'workers'];
    const table = new Table({ head, style: { head: [], border: [] } });
    for (const s of all) {
      const state = s.queued ? 'queued' : s.done + s.failed >= s.runs ? 'finished, not collected' : 'withdrawn (--resume goes on)';
      const refused = Object.keys(s.refused).length;
      table.push([s.queue, s.scenario, state, s.queuedAt.slice(0, 19).replace('T', ' '), s.ipilab.version + (s.ipilab.commit === undefined ? '' : ` ${s.ipilab.commit.slice(0, 12)}`), s.runs, s.waiting, s.running, s.done, s.failed, `${s.workers.length}${refused > 0 ? ` (${refused} refused)` : ''}`]);
    }
    io.out(`${table.toString()}\n`);
  } finally {
    connection.disconnect();
  }
}
