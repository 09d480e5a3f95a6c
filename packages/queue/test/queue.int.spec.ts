import { readFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { ipilab, Proc, RedisServer, SMALL, stopAll, worker } from './real-parts';
import { PREFIX, PROTOCOL, REGISTRY, refusalsKey, sweepKey } from '../src/protocol';
import type { LocalRedis } from '../src/local-redis';

/**
 * The queue with real parts (issue 16): a real redis-server on a free loopback port, worker
 * processes and coordinators run as users run them. Each test uses its own Redis database, so
 * the sweeps of one test never meet another's workers.
 */

jest.setTimeout(120_000);

let redis: LocalRedis;
const procs: Proc[] = [];
const track = (p: Proc): Proc => (procs.push(p), p);

beforeAll(async () => {
  redis = await RedisServer.start();
});
afterEach(async () => {
  await stopAll(procs.splice(0));
});
afterAll(async () => {
  await redis?.stop();
});

/** The sweep JSON without what may differ between machines: meta (times, command), workers and their measured heaps. */
function figures(json: string): unknown {
  const { meta: _m, workers: _w, workerHeap: _h, ...rest } = JSON.parse(json) as Record<string, unknown>;
  return rest;
}

const grid = ['--grid', 'vms[0].vcpus=2,4', '--grid', 'hypervisor.backend=trap,pv', '--set', 'run.replications=2', '--set', 'plugins=[./plugin-backend.js]'];

describe('sweep --queue with two worker processes', () => {
  it('writes the same JSON and CSV as the local sweep, with the same figures for the same seeds', async () => {
    const url = `${redis.url}/1`;
    const w1 = track(worker(url));
    const w2 = track(worker(url));
    const out = mkdtempSync(join(tmpdir(), 'ipilab-queued-'));
    const local = mkdtempSync(join(tmpdir(), 'ipilab-local-'));
    const queued = track(ipilab(['sweep', SMALL, ...grid, '--queue', url, '--out', out, '--json']));
    const here = track(ipilab(['sweep', SMALL, ...grid, '--workers', '2', '--out', local, '--json']));
    expect(await queued.exited).toEqual({ code: 0, signal: null });
    expect(await here.exited).toEqual({ code: 0, signal: null });
    expect(figures(queued.out)).toEqual(figures(here.out));
    expect(readFileSync(join(out, 'sweep.csv'), 'utf8')).toBe(readFileSync(join(local, 'sweep.csv'), 'utf8'));
    expect(figures(readFileSync(join(out, 'sweep.json'), 'utf8'))).toEqual(figures(readFileSync(join(local, 'sweep.json'), 'utf8')));
    // Both workers took runs (8 runs, one at a time each), and each run ran once.
    const started = w1.count(/started sweep-small-/) + w2.count(/started sweep-small-/);
    expect(started).toBe(8);
    expect(Math.min(w1.count(/started sweep-small-/), w2.count(/started sweep-small-/))).toBeGreaterThan(0);
    expect(JSON.parse(queued.out).workers).toBe(2);
    // The output says it went through the queue, and a rerun of it (here, locally) gives the same figures.
    expect(JSON.parse(queued.out).meta.overrides).toMatchObject({ queue: url, workers: 2 });
    const again = track(ipilab(['rerun', join(out, 'sweep.json')]));
    await again.exited;
    expect(figures(again.out)).toEqual(figures(queued.out));
    // The plugin travelled: the workers ran its backend from their own cache.
    expect(queued.err).toMatch(/ipilab: queue sweep-small-[0-9a-f]{16} on redis:\/\/127\.0\.0\.1:\d+\/1: 8 run\(s\) queued for workers/);
    // Once the outputs are written, Redis keeps nothing of the sweep.
    const r = new Redis(url);
    try {
      expect(await r.keys('ipilab:*')).toEqual(expect.not.arrayContaining([expect.stringMatching(/^ipilab:sweep/)]));
      expect(await r.zcard(REGISTRY)).toBe(0);
    } finally {
      r.disconnect();
    }
  });

  it('a worker killed -9 mid-run: another worker takes the run again, and its figures are the local ones', async () => {
    const url = `${redis.url}/2`;
    const long = ['--grid', 'vms[0].vcpus=4', '--set', 'run.duration=600ms'];
    const a = track(worker(url, '--stalled-after', '2s'));
    const queued = track(ipilab(['sweep', SMALL, ...long, '--queue', url, '--json']));
    await a.waitFor(/started sweep-small-/);
    // Only now the second worker: the run is the first's until it dies.
    const b = track(worker(url, '--stalled-after', '2s'));
    await b.waitFor(/serving/);
    a.child.kill('SIGKILL');
    await b.waitFor(/finished sweep-small-\S+ point \{"vms\[0\]\.vcpus":"4"\} seed 7/, 60_000);
    expect(await queued.exited).toEqual({ code: 0, signal: null });
    const here = track(ipilab(['sweep', SMALL, ...long, '--json']));
    await here.exited;
    expect(figures(queued.out)).toEqual(figures(here.out));
    expect(a.count(/finished/)).toBe(0);
  });

  it('a run that fails deterministically is reported once, with its point and seed, and never retried', async () => {
    const url = `${redis.url}/3`;
    const w1 = track(worker(url));
    const w2 = track(worker(url));
    const queued = track(ipilab(['sweep', SMALL, '--grid', 'hypervisor.backend=trap,broken', '--set', 'plugins=[./plugin-broken-backend.js]', '--queue', url]));
    expect((await queued.exited).code).toBe(1);
    expect(queued.count(/sweep point \{"hypervisor\.backend":"broken"\} seed 7 failed: plugins\[0\] \(\.\/plugin-broken-backend\.js\) failed at \d+ ns: backend exploded/)).toBe(1);
    await new Promise((r) => setTimeout(r, 1500));
    expect(w1.count(/started \S+ point \{"hypervisor\.backend":"broken"\}/) + w2.count(/started \S+ point \{"hypervisor\.backend":"broken"\}/)).toBe(1);
  });

  it('Ctrl-C cancels the pending runs; --resume collects the finished ones from Redis and queues only the missing', async () => {
    const url = `${redis.url}/4`;
    // 12 runs: enough that some are still waiting when Ctrl-C lands, on a fast machine too.
    const args = ['--grid', 'vms[0].vcpus=1,2,3,4', '--set', 'run.duration=4ms', '--set', 'run.replications=3'];
    const w = track(worker(url));
    const first = track(ipilab(['sweep', SMALL, ...args, '--queue', url, '--json']));
    await w.waitFor(/finished sweep-small-/);
    first.child.kill('SIGINT');
    expect((await first.exited).code).toBe(130);
    expect(first.err).toMatch(/sweep interrupted by SIGINT after \d+ of 12 runs: .*finish it with the same command and --resume \(the finished runs are in Redis, queue sweep-small-/);
    // Nothing of the sweep waits in the queue any more; the worker finishes what it had.
    const r = new Redis(url);
    const name = /queue (sweep-small-[0-9a-f]+)/.exec(first.err)![1]!;
    const q = new Queue(name, { connection: r, prefix: PREFIX });
    try {
      expect(await q.getWaitingCount()).toBe(0);
      for (let i = 0; i < 200 && (await q.getActiveCount()) > 0; i++) await new Promise((res) => setTimeout(res, 50));
      const done = await q.getCompletedCount();
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(12);
      const resumed = track(ipilab(['sweep', SMALL, ...args, '--queue', url, '--json', '--resume']));
      expect(await resumed.exited).toEqual({ code: 0, signal: null });
      expect(resumed.err).toContain(`${done} of 12 runs already done, ${12 - done} run(s) queued`);
      // Every run ran once over both coordinators.
      expect(w.count(/started sweep-small-/)).toBe(12);
      const here = track(ipilab(['sweep', SMALL, ...args, '--json']));
      await here.exited;
      expect(figures(resumed.out)).toEqual(figures(here.out));
    } finally {
      await q.close();
      r.disconnect();
    }
  });

  it('a coordinator killed -9 and restarted with --resume collects what the workers did meanwhile', async () => {
    const url = `${redis.url}/5`;
    const args = ['--grid', 'vms[0].vcpus=1,2,3,4', '--set', 'run.duration=4ms'];
    const w = track(worker(url, '--concurrency', '2'));
    const first = track(ipilab(['sweep', SMALL, ...args, '--queue', url, '--json']));
    await w.waitFor(/started sweep-small-/);
    first.child.kill('SIGKILL');
    await first.exited;
    // Without --resume the queue is not taken over silently.
    const again = track(ipilab(['sweep', SMALL, ...args, '--queue', url]));
    expect((await again.exited).code).toBe(2);
    expect(again.err).toMatch(/^ipilab: --queue redis:\/\/127\.0\.0\.1:\d+\/5: the queue sweep-small-[0-9a-f]+ holds this sweep from an earlier coordinator \(\d+ of its runs done, \d+ queued or running\): add --resume to collect them and queue only the missing runs\n$/);
    const resumed = track(ipilab(['sweep', SMALL, ...args, '--queue', url, '--json', '--resume']));
    expect(await resumed.exited).toEqual({ code: 0, signal: null });
    expect(resumed.err).toMatch(/, 0 run\(s\) queued for workers/);
    expect(w.count(/started sweep-small-/)).toBe(4);
    const here = track(ipilab(['sweep', SMALL, ...args, '--json']));
    await here.exited;
    expect(figures(resumed.out)).toEqual(figures(here.out));
  });
});

describe('the coordinator on a terminal', () => {
  it('shows a progress bar with ETA as the workers report, and writes what a local sweep writes', async () => {
    const url = `${redis.url}/7`;
    track(worker(url, '--concurrency', '2'));
    const { cliOn, fakeTerminal } = require('../../cli/test/run-cli') as typeof import('../../cli/test/run-cli');
    const term = fakeTerminal();
    const r = await cliOn(term, () => performance.now(), 'sweep', SMALL, '--grid', 'vms[0].vcpus=2,3,4', '--set', 'run.replications=2', '--queue', url, '--csv');
    expect(r.code).toBe(0);
    expect(term.text).toMatch(/sweep \[[^\]]*\] [0-6]\/6 runs \| ETA /);
    expect(term.text).toMatch(/6\/6 runs/);
    const here = track(ipilab(['sweep', SMALL, '--grid', 'vms[0].vcpus=2,3,4', '--set', 'run.replications=2', '--csv']));
    await here.exited;
    expect(r.out).toBe(here.out);
  });
});

describe('Redis restarted without persistence mid-sweep', () => {
  it('the coordinator queues again the runs Redis lost, and the sweep ends with every run, as locally', async () => {
    // A Redis of its own, to restart.
    const own = await RedisServer.start();
    try {
      const url = own.url;
      const args = ['--grid', 'vms[0].vcpus=1,2,3,4,5,6', '--set', 'run.duration=30ms'];
      const w = track(worker(url));
      const queued = track(ipilab(['sweep', SMALL, ...args, '--queue', url, '--json']));
      await w.waitFor(/finished sweep-small-/);
      await own.restart();
      expect(await queued.exited).toEqual({ code: 0, signal: null });
      expect(queued.err).toMatch(/Redis lost \d of this sweep's runs \(restarted without persistence\?\): queued again/);
      // Each side said, once, that it lost Redis and when it was back.
      expect(queued.count(/ipilab: lost the connection to Redis at redis:\/\/127\.0\.0\.1:\d+: reconnecting/)).toBe(1);
      expect(queued.count(/ipilab: reconnected to Redis at /)).toBe(1);
      expect(w.err).toMatch(/ipilab worker \S+: lost the connection to Redis at [^\n]+\n(.*\n)*ipilab worker \S+: reconnected to Redis at /);
      const here = track(ipilab(['sweep', SMALL, ...args, '--json']));
      await here.exited;
      expect(figures(queued.out)).toEqual(figures(here.out));
    } finally {
      await own.stop();
    }
  });
});

describe('ipilab sweeps and ipilab worker --exit-when-idle', () => {
  it('lists an unfinished sweep with its runs, and --drop removes it from Redis for good', async () => {
    const url = `${redis.url}/8`;
    // No worker: the sweep is stopped by --timeout, its runs withdrawn, its record kept for --resume.
    const stopped = track(ipilab(['sweep', SMALL, '--grid', 'vms[0].vcpus=2,3,4', '--queue', url, '--timeout', '2s']));
    expect((await stopped.exited).code).toBe(1);
    const name = /queue (sweep-small-[0-9a-f]{16})/.exec(stopped.err)![1]!;
    const listed = track(ipilab(['sweeps', '--queue', url, '--json']));
    expect((await listed.exited).code).toBe(0);
    expect(JSON.parse(listed.out)).toMatchObject({ queue: url, sweeps: [{ queue: name, scenario: 'small', queued: false, runs: 3, waiting: 0, running: 0, done: 0, failed: 0, workers: [] }] });
    const table = track(ipilab(['sweeps', '--queue', url]));
    await table.exited;
    expect(table.out).toMatch(new RegExp(`│ ${name} +│ small +│ withdrawn \\(--resume goes on\\) +│`));
    const dropped = track(ipilab(['sweeps', '--queue', url, '--drop', name]));
    expect((await dropped.exited).code).toBe(0);
    expect(dropped.err).toBe(`ipilab: dropped ${name} from ${url}\n`);
    const r = new Redis(url);
    try {
      expect(await r.dbsize()).toBe(0);
    } finally {
      r.disconnect();
    }
    const again = track(ipilab(['sweeps', '--queue', url, '--drop', name]));
    expect((await again.exited).code).toBe(2);
    expect(again.err).toBe(`ipilab: --drop ${name}: Redis at ${url} holds no such sweep; it holds none\n`);
  });

  it('a worker with --exit-when-idle stops once there has been nothing to run for that long, exit 0', async () => {
    const url = `${redis.url}/9`;
    const w = track(worker(url, '--exit-when-idle', '1s'));
    const t0 = Date.now();
    expect(await w.exited).toEqual({ code: 0, signal: null });
    expect(w.err).toMatch(/no runs to take for 1 s \(--exit-when-idle\): stopping\n(.*\n)?.*stopped after 0 run\(s\)\n$/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });
});

describe('stopping a worker', () => {
  it('Ctrl-C once: it finishes the run under way (the sweep gets it) and exits 0; twice: it stops at once, and another worker takes the run', async () => {
    const url = `${redis.url}/10`;
    const long = ['--grid', 'vms[0].vcpus=4,3', '--set', 'run.duration=300ms'];
    const a = track(worker(url, '--stalled-after', '2s'));
    const queued = track(ipilab(['sweep', SMALL, ...long, '--queue', url, '--json']));
    await a.waitFor(/started sweep-small-/);
    a.child.kill('SIGINT');
    expect(await a.exited).toEqual({ code: 0, signal: null });
    expect(a.err).toMatch(/ipilab: worker stopping: no more runs taken, the runs under way finish first \(SIGINT again to stop at once\)\n(.*\n)*.*finished sweep-small-\S+ point \{"vms\[0\]\.vcpus":"4"\}/);
    expect(a.count(/started/)).toBe(1);
    // The second run waits for a worker; this one is stopped twice mid-run.
    const b = track(worker(url, '--stalled-after', '2s'));
    await b.waitFor(/started sweep-small-/);
    b.child.kill('SIGINT');
    await b.waitFor(/worker stopping/);
    b.child.kill('SIGINT');
    // Ended by the signal itself (a shell shows 130).
    expect(await b.exited).toEqual({ code: null, signal: 'SIGINT' });
    expect(b.count(/finished/)).toBe(0);
    const c = track(worker(url, '--stalled-after', '2s'));
    await c.waitFor(/finished sweep-small-\S+ point \{"vms\[0\]\.vcpus":"3"\}/, 60_000);
    expect(await queued.exited).toEqual({ code: 0, signal: null });
    const here = track(ipilab(['sweep', SMALL, ...long, '--json']));
    await here.exited;
    expect(figures(queued.out)).toEqual(figures(here.out));
  });
});

describe('a worker of another ipilab', () => {
  it('refuses a run whose job names another version, with one line, and leaves it for a worker of that version', async () => {
    const url = `${redis.url}/6`;
    const r = new Redis(url);
    const name = 'sweep-versions-0123456789abcdef';
    const q = new Queue(name, { connection: r, prefix: PREFIX });
    try {
      const w = track(worker(url));
      const mine = /\(ipilab ([^)]*\)?)\)\n/.exec(await w.waitFor(/serving .*\n/).then((m) => m[0]))![1]!;
      // The sweep's record says this worker's version (so it takes the job), the job another.
      const here = JSON.parse(readFileSync(join(__dirname, '..', '..', 'cli', 'package.json'), 'utf8')) as { version: string };
      const { toolVersion } = require('../../cli/src/version') as typeof import('../../cli/src/version');
      expect(mine).toContain(here.version);
      await r.multi().hset(sweepKey(name), { ipilab: JSON.stringify(toolVersion()), runs: '1', queuedAt: '1' }).zadd(REGISTRY, 1, name).exec();
      await q.add('run', { protocol: PROTOCOL, ipilab: { version: '0.0.1-other' }, params: {}, point: 0, seed: 1, loaded: {}, plugins: [] } as never, { jobId: 'p0-s1' });
      await w.waitFor(/refusing the runs of sweep-versions-0123456789abcdef: it was queued by ipilab 0\.0\.1-other, this worker runs ipilab /);
      expect(w.count(/started/)).toBe(0);
      // The run is back in the queue for another worker, and the coordinator can say who refused.
      expect(['delayed', 'waiting']).toContain(await q.getJobState('p0-s1'));
      expect(Object.values(await r.hgetall(refusalsKey(name)))[0]).toMatch(/^it was queued by ipilab 0\.0\.1-other, this worker runs ipilab /);
    } finally {
      await q.close();
      r.disconnect();
    }
  });
});
