import { closeSweepWorkers } from '@ipilab/scenario';
import { EXIT } from './main';
import { cli, small } from '../test/run-cli';

// Issue 17: --workers above the machine's cores is allowed but said; each worker thread's heap is reported.

// The machine's cores, as the CLI reads them (os.availableParallelism): 2 here, whatever runs the tests.
const os = require('node:os') as typeof import('node:os');
let cores: jest.SpyInstance;
beforeEach(() => {
  cores = jest.spyOn(os, 'availableParallelism').mockReturnValue(2);
});
afterEach(() => cores.mockRestore());
afterAll(() => closeSweepWorkers());

const sweep = (...more: string[]): string[] => ['sweep', small, '--grid', 'run.seed=1,2,3', '--set', 'run.duration=100us', ...more];
const WARNING = 'ipilab: --workers 3: this machine has 2 cores; more workers than cores slow a sweep down (each thread loads and compiles the model, and they take turns on the cores)\n';

describe('sweep --workers', () => {
  it('more workers than cores run, with one line on stderr that says so', async () => {
    const r = await cli(...sweep('--workers', '3', '--json'));
    expect([r.code, r.err]).toEqual([EXIT.ok, WARNING]);
    expect(JSON.parse(r.out).workers).toBe(3);
  }, 60_000);

  it('as many workers as cores, or the default, say nothing', async () => {
    for (const more of [['--workers', '2'], []]) {
      const r = await cli(...sweep(...more, '--json'));
      expect([r.code, r.err]).toEqual([EXIT.ok, '']);
      expect(JSON.parse(r.out).workers).toBe(2);
    }
  }, 60_000);

  it('a sweep refused for its input says only why, not the warning', async () => {
    const r = await cli('sweep', small, '--grid', 'vms[0].vcpus=0,2', '--workers', '3');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).not.toContain('--workers');
    expect(r.err.trim().split('\n')).toHaveLength(1);
  }, 60_000);

  it('reports each worker thread\'s runs and heap: workerHeap in --json, the largest heap in the table\'s summary line', async () => {
    const j = JSON.parse((await cli(...sweep('--workers', '2', '--json'))).out);
    expect(j.workerHeap.reduce((n: number, w: { runs: number }) => n + w.runs, 0)).toBe(3);
    expect(j.workerHeap.length).toBeLessThanOrEqual(2);
    for (const w of j.workerHeap) {
      expect(w.usedMiB).toBeGreaterThan(0);
      expect(w.heapMiB).toBeGreaterThanOrEqual(w.usedMiB);
    }
    const table = await cli(...sweep('--workers', '1'));
    expect(table.out.split('\n')[0]).toMatch(/, 1 worker\(s\) \(heap up to \d+\.\d MiB a thread\)$/);
  }, 60_000);
});
