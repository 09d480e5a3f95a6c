import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeSweepWorkers, DEFAULT_MAX_INPUT_BYTES, heapBudgetMb, loadScenario, nodeHeapLimitMb, parseByteSize, resourceProblems } from '@ipilab/scenario';
import { EXIT } from './main';
import { cli } from '../test/cli-harness';

// Issue 18, "resource guards before the work": what cannot fit is refused before it is tried,
// with one line naming the key and the limit; input files are capped and read once.

const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');


/** One line on stderr, exit 2, nothing on stdout. */
function refused(r: { code: number; out: string; err: string }, line: RegExp): void {
  expect(r.code).toBe(EXIT.usage);
  expect(r.out).toBe('');
  expect(r.err.split('\n').filter((l) => l !== '')).toHaveLength(1);
  expect(r.err).toMatch(line);
  expect(r.err).not.toMatch(/\n\s+at /);
}

const scratch = (): string => mkdtempSync(join(tmpdir(), 'ipilab-guards-'));

afterAll(() => closeSweepWorkers());

describe('resource guards', () => {
  it('a VM count too large for the heap is refused before anything is built, naming the key and the budget', async () => {
    // Before: V8 "heap out of memory", exit 134, after 17-70 s.
    for (const cmd of [['validate'], ['run'], ['sweep', '--grid', 'hypervisor.backend=trap,pv']]) {
      const r = await cli(cmd[0]!, small, ...cmd.slice(1), '--set', 'vms[0].count=100000');
      refused(r, /vms\[0\]\.count: 100,001 VM copies with 400,002 vCPUs need about [\d,]+ MiB of heap to run .* over the heap budget of \d+ MiB/);
    }
  });

  it('replications whose results cannot be kept are refused, naming run.replications and the most that fit', async () => {
    for (const cmd of [['validate'], ['compare', '--vary', 'hypervisor.backend=trap,pv'], ['sweep', '--grid', 'hypervisor.backend=trap,pv']]) {
      const r = await cli(cmd[0]!, small, ...cmd.slice(1), '--set', 'run.replications=1e9');
      refused(r, /run\.replications: expected at most [\d,]+ replications: their results alone need [\d,]+ MiB, over the heap budget/);
    }
  });

  it('compare keeps every run until it ends: replications x variants that would not fit together are refused before the first run', async () => {
    const r = await cli('compare', small, '--vary', 'hypervisor.backend=trap,pv', '--set', 'run.replications=100000');
    refused(r, /run\.replications: compare keeps every run's model until it ends: 200,000 runs of 2 variants need about [\d,]+ MiB, over the heap budget .*use sweep/);
  });

  it('the heap budget stays well under Node\'s own limit, whatever run.maxHeapMb says', () => {
    const s = loadScenario(small, ['run.maxHeapMb=1000000']).scenario;
    expect(heapBudgetMb(s)).toBe(Math.floor(nodeHeapLimitMb() * 0.75));
    const half = Math.floor(nodeHeapLimitMb() / 2);
    expect(heapBudgetMb(loadScenario(small, [`run.maxHeapMb=${half}`]).scenario)).toBe(half);
    // A count that fits under run.maxHeapMb but not under Node's limit is refused all the same.
    const big = loadScenario(small).scenario;
    const copies = Math.ceil((nodeHeapLimitMb() * 2 ** 20) / (3 * (16 + 4 * 6) * 1024));
    expect(resourceProblems({ ...big, vms: [{ ...big.vms[0]!, count: copies }, big.vms[1]!], run: { ...big.run, maxHeapMb: 1_000_000 } })).toEqual([
      { key: 'vms[0].count', message: expect.stringContaining("3/4 of Node's heap limit") },
    ]);
  });

  it('checking a grid keeps every point\'s model until all are checked: a grid whose models would not fit together is refused as it is checked, naming --grid', async () => {
    // The heap in use is this test process's (jest's, large): held at 0 so that only the estimate speaks.
    const v8 = require('node:v8') as typeof import('node:v8');
    const real = v8.getHeapStatistics;
    const spy = jest.spyOn(v8, 'getHeapStatistics').mockImplementation(() => ({ ...real(), used_heap_size: 0 }));
    try {
      const shared = ['--set', 'vms[0].placement=shared', '--set', 'vms[1].placement=shared', '--set', 'run.maxHeapMb=5'];
      // Each point fits (the largest, 40 copies of 4 vCPUs: ~1.6 MiB set up, ~4.8 MiB running), the 40 together do not.
      refused(await cli('sweep', small, ...shared, '--grid', 'vms[0].count=1..40'), /^ipilab: --grid: checking every point before the first runs keeps each point's model until all are checked: the first \d+ of 40 points need about \d+ MiB, over the heap budget of 5 MiB \(run\.maxHeapMb\); split the grid/);
    } finally {
      spy.mockRestore();
    }
  });

  it('the heap is checked while the run is built, between VMs: over the budget, set-up stops with one line', async () => {
    // This process's heap is far over 1 MiB before the first VM is built.
    refused(await cli('validate', small, '--set', 'run.maxHeapMb=1'), /small\.yaml:\d+:\d+: vms\[0\]\.vcpus: the run used \d+ MiB of heap while building churn, over the heap budget of 1 MiB \(run\.maxHeapMb\)/);
    refused(await cli('run', small, '--set', 'run.maxHeapMb=1'), /vms\[0\]\.vcpus: the run used \d+ MiB of heap while building churn/);
  });
});

describe('input files', () => {
  it('validate /dev/zero returns at once: reading stops at the size limit', async () => {
    refused(await cli('validate', '/dev/zero'), /^ipilab: \/dev\/zero: more than 1 MiB, over the input size limit of 1 MiB; raise it with --max-input-size, e.g. --max-input-size 2MiB\n$/);
  });

  it('a file over the limit is refused from its size, naming the file, the limit and the flag; --max-input-size raises it', async () => {
    const f = join(scratch(), 'big.yaml');
    // A valid scenario padded with a comment past 1 MiB.
    writeFileSync(f, `${readFileSync(small, 'utf8')}#${'x'.repeat(DEFAULT_MAX_INPUT_BYTES)}\n`);
    refused(await cli('validate', f), new RegExp(`^ipilab: ${f}: 1,048,[\\d]+ bytes, over the input size limit of 1 MiB; raise it with --max-input-size, e.g. --max-input-size 2MiB\\n$`));
    const ok = await cli('validate', f, '--max-input-size', '2MiB');
    expect([ok.code, ok.err]).toEqual([EXIT.ok, '']);
    refused(await cli('validate', small, '--max-input-size', '100'), /small\.yaml: 300 B, over the input size limit of 100 B/);
    refused(await cli('validate', small, '--max-input-size', 'lots'), /^ipilab: --max-input-size: expected a size such as 8MiB, 500KB or 100000 \(bytes\), got "lots"\n$/);
  });

  it('grid files and the results rerun reads are capped too', async () => {
    refused(await cli('sweep', small, '--grid-file', '/dev/zero'), /--grid-file \/dev\/zero: more than 1 MiB, over the input size limit of 1 MiB/);
    refused(await cli('rerun', '/dev/zero', '--max-input-size', '1MiB'), /\/dev\/zero: more than 1 MiB, over the input size limit of 1 MiB/);
  });

  it('sizes: binary and decimal units, bytes bare', () => {
    expect([parseByteSize('8MiB'), parseByteSize('500KB'), parseByteSize('2g'), parseByteSize('100000'), parseByteSize('1.5 KiB')]).toEqual([8 * 2 ** 20, 500_000, 2 * 2 ** 30, 100_000, 1536]);
    expect([parseByteSize('0'), parseByteSize('-1'), parseByteSize('lots'), parseByteSize('4 parsecs')]).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('a sweep reads its scenario file once, not once per point nor again for its provenance', async () => {
    // The module object the scenario package calls through (an `import * as` would be a copy).
    const fs = require('node:fs') as typeof import('node:fs');
    const real = { openSync: fs.openSync, readFileSync: fs.readFileSync };
    const reads: string[] = [];
    const spies = [
      jest.spyOn(fs, 'openSync').mockImplementation(((...a: Parameters<typeof fs.openSync>) => {
        if (a[0] === small) reads.push('openSync');
        return real.openSync(...a);
      }) as typeof fs.openSync),
      jest.spyOn(fs, 'readFileSync').mockImplementation(((...a: Parameters<typeof fs.readFileSync>) => {
        if (a[0] === small) reads.push('readFileSync');
        return real.readFileSync(...a);
      }) as typeof fs.readFileSync),
    ];
    try {
      const r = await cli('sweep', small, '--grid', 'vms[0].vcpus=1,2,3', '--set', 'run.duration=100us', '--workers', '1');
      expect(r.code).toBe(EXIT.ok);
    } finally {
      for (const s of spies) s.mockRestore();
    }
    expect(reads).toHaveLength(1);
  }, 60_000);
});
