import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { WORKLOAD_PARAMS } from '@ipilab/guest';
import { checkScenario, suggest } from './index';

const FIX = join(__dirname, '..', 'test', 'fixtures');

/**
 * Right values for every parameter of every workload, on a VM of 2 vCPUs (small: a check
 * spawns the workload's tasks). A parameter a workload gains must get values here too.
 */
const GOOD: Record<string, Record<string, readonly unknown[]>> = {
  'ipi-bench': { mode: ['unicast', 'broadcast', ['self', 'dry-run']], iterations: [1, 10], sender: [0], target: [1] },
  ebizzy: { threads: [1, 2], chunkPages: [1, 8], searchNs: [0, 1_000], thinkNs: [0, 100], pinned: [true, false], free: ['munmap', 'madvise'] },
  hackbench: { groups: [1, 2], pairs: [1, 2], messages: [1, 3], sendNs: [0, 100], receiveNs: [0, 100] },
  'fork-cow': { parents: [1, 2], pages: [1, 8], writes: [0, 2], workNs: [0, 1_000], parentThreads: [1, 2] },
  'huge-split': { threads: [1, 2], hugePages: [1, 2], touchNs: [0, 100], reclaimIntervalNs: [1, 10_000], swapPages: [0, 4] },
  'irq-pipeline': { rate: [1, 1_000], irqVcpus: [[0]], appVcpus: [[1]], processNs: [0, 100] },
  compute: { tasks: [1, 2], unitNs: [1, 100], startOn: [0, 1] },
  'will-it-scale': { test: ['page_fault', 'mmap'], threads: [1, 2], pages: [1, 16], pinned: [true, false], perVmaLock: [true, false] },
};

const KINDS = Object.keys(WORKLOAD_PARAMS);

/** A workload of `kind` with some of its parameters, each a right value. */
const goodWorkload = (kind: string): fc.Arbitrary<Record<string, unknown>> =>
  fc
    .subarray(Object.keys(GOOD[kind]!))
    .chain((keys) => fc.record(Object.fromEntries(keys.map((k) => [k, fc.constantFrom(...GOOD[kind]![k]!)]))))
    .map((params) => ({ kind, ...params }));

/** A key no workload of `kind` has: a word, sometimes a near miss of one it has. */
const unknownKey = (kind: string): fc.Arbitrary<string> => {
  const keys = ['kind', ...Object.keys(WORKLOAD_PARAMS[kind]!.shape)];
  const typo = fc.constantFrom(...keys.filter((k) => k !== 'kind')).chain((k) =>
    fc.oneof(
      fc.constant(k.toUpperCase()),
      fc.constant(`${k}s`),
      fc.nat(k.length - 2).map((i) => k.slice(0, i) + k[i + 1]! + k[i]! + k.slice(i + 2)),
    ),
  );
  return fc.oneof(fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,11}$/), typo).filter((k) => !keys.includes(k));
};

const scenario = (workload: Record<string, unknown>): unknown => ({ host: { preset: 'small-1s-8t' }, vms: [{ name: 'a', vcpus: 2, workload }], run: { duration: '20us' } });
const check = (workload: Record<string, unknown>) => checkScenario(scenario(workload), { dir: FIX, file: 's.yaml', model: true });

describe('workload parameters are strict (fast-check, fixed seed)', () => {
  it('the table of right values covers every parameter of every workload', () => {
    for (const kind of KINDS) expect(Object.keys(GOOD[kind] ?? {}).sort()).toEqual(Object.keys(WORKLOAD_PARAMS[kind]!.shape).sort());
  });

  it('every workload kind: its documented keys with right values are accepted', () => {
    fc.assert(
      fc.property(fc.constantFrom(...KINDS).chain(goodWorkload), (w) => {
        expect(check(w).problems).toEqual([]);
      }),
    );
  });

  it('every workload kind: an unknown key is refused at that key, with "did you mean" when it is near one', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS).chain((kind) => fc.tuple(goodWorkload(kind), unknownKey(kind), fc.jsonValue({ maxDepth: 2 }).filter((v) => !JSON.stringify(v).includes('"__proto__"')))),
        ([w, key, value]) => {
          const kind = w['kind'] as string;
          const { problems } = check({ ...w, [key]: value });
          expect(problems).toHaveLength(1);
          expect(problems[0]!.key).toBe(`vms[0].workload.${key}`);
          expect(problems[0]!.atKey).toBe(true);
          expect(problems[0]!.message).toMatch(new RegExp(`^unknown key: not a parameter of ${kind}; `));
          const near = suggest(key, Object.keys(WORKLOAD_PARAMS[kind]!.shape));
          expect(problems[0]!.message).toContain(near === undefined ? 'its parameters: ' : `did you mean ${JSON.stringify(near)}?`);
        },
      ),
    );
  });

  it('every workload kind: a value of the wrong type is refused, never read as a default', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...KINDS).chain((kind) => fc.tuple(goodWorkload(kind), fc.constantFrom(...Object.keys(GOOD[kind]!)), fc.constantFrom<unknown>('yes', null, {}, 'true', Number.NaN))),
        ([w, key, value]) => {
          const { problems } = check({ ...w, [key]: value });
          expect(problems.map((p) => p.key)).toEqual([`vms[0].workload.${key}`]);
          expect(problems[0]!.message).toMatch(/^expected /);
        },
      ),
    );
  });

  it('docs/scenarios.md names every parameter of every workload in its row', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'scenarios.md'), 'utf8');
    for (const kind of KINDS) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${kind}\` |`));
      expect(row).toBeDefined();
      for (const key of Object.keys(WORKLOAD_PARAMS[kind]!.shape)) expect([kind, row!.includes(`\`${key}\``)]).toEqual([kind, true]);
    }
  });
});
