import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { PREFIX, REGISTRY, refusalsKey, sweepKey, type IpilabVersion } from './protocol';

/** A sweep Redis holds: queued now, or left unfinished (withdrawn by Ctrl-C, or its coordinator gone). */
export interface SweepStatus {
  /** The queue's name. */
  readonly queue: string;
  /** The scenario's name. */
  readonly scenario: string;
  /** Whether workers take its runs now (false: withdrawn by Ctrl-C, or finished and not yet collected; `--resume` goes on). */
  readonly queued: boolean;
  /** When it was first queued (ISO 8601, UTC). */
  readonly queuedAt: string;
  /** The ipilab its runs need. */
  readonly ipilab: IpilabVersion;
  /** Its runs in all. */
  readonly runs: number;
  readonly waiting: number;
  readonly running: number;
  readonly done: number;
  readonly failed: number;
  /** The workers connected to its queue now. */
  readonly workers: readonly string[];
  /** Workers that refused it, and why. */
  readonly refused: Readonly<Record<string, string>>;
}

/** The sweeps Redis holds, oldest first. */
export async function sweepStatuses(r: Redis): Promise<SweepStatus[]> {
  const names = new Set<string>();
  for (const key of await scanKeys(r, 'ipilab:sweep:*')) {
    const m = /^ipilab:sweep:([^:]+)$/.exec(key);
    if (m !== null) names.add(m[1]!);
  }
  const registered = new Set(await r.zrange(REGISTRY, 0, -1));
  const out: SweepStatus[] = [];
  for (const name of names) {
    const rec = await r.hgetall(sweepKey(name));
    const q = new Queue(name, { connection: r, prefix: PREFIX });
    q.on('error', () => undefined);
    try {
      const c = await q.getJobCounts('wait', 'prioritized', 'delayed', 'active', 'completed', 'failed');
      const workers = await q.getWorkers().catch(() => []);
      out.push({
        queue: name,
        scenario: rec['scenario'] ?? '',
        queued: registered.has(name),
        queuedAt: new Date(Number(rec['queuedAt'] ?? 0)).toISOString(),
        ipilab: safeJson(rec['ipilab']) as IpilabVersion,
        runs: Number(rec['runs'] ?? 0),
        waiting: (c['wait'] ?? 0) + (c['prioritized'] ?? 0) + (c['delayed'] ?? 0),
        running: c['active'] ?? 0,
        done: c['completed'] ?? 0,
        failed: c['failed'] ?? 0,
        workers: workers.map((w) => String((w as Record<string, unknown>)['name'] ?? (w as Record<string, unknown>)['addr'] ?? '?')).sort(),
        refused: await r.hgetall(refusalsKey(name)),
      });
    } finally {
      await q.close();
    }
  }
  return out.sort((a, b) => (a.queuedAt < b.queuedAt ? -1 : a.queuedAt > b.queuedAt ? 1 : a.queue < b.queue ? -1 : 1));
}

/**
 * Removes a sweep from Redis for good: its runs (waiting ones no worker will take, results no
 * coordinator will collect), its record and its place among the queued sweeps. Runs under way
 * finish on their workers and are dropped. Resolves to false when Redis holds no such sweep.
 */
export async function dropSweep(r: Redis, name: string): Promise<boolean> {
  const known = (await r.exists(sweepKey(name))) === 1 || (await r.zscore(REGISTRY, name)) !== null || (await scanKeys(r, `${PREFIX}:${name}:*`, 1)).length > 0;
  if (!known) return false;
  const q = new Queue(name, { connection: r, prefix: PREFIX });
  q.on('error', () => undefined);
  try {
    await q.obliterate({ force: true });
  } finally {
    await q.close();
  }
  await r.multi().zrem(REGISTRY, name).del(sweepKey(name), refusalsKey(name)).exec();
  return true;
}

/** Keys matching `pattern` (SCAN, never KEYS), at most `limit`. */
async function scanKeys(r: Redis, pattern: string, limit = Infinity): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0' && keys.length < limit);
  return keys;
}

function safeJson(text: string | undefined): unknown {
  try {
    return text === undefined ? { version: '?' } : JSON.parse(text);
  } catch {
    return { version: '?' };
  }
}
