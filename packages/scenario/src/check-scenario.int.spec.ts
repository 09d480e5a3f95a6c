import { join } from 'node:path';
import fc from 'fast-check';
import { checkScenario, runWithSlowdown, scenarioSchema, ScenarioError, type LoadedScenario } from './index';

const FIX = join(__dirname, '..', 'test', 'fixtures');

/** Parameter names each workload reads, and a few it does not: the generator mixes them. */
const PARAMS: Record<string, string[]> = {
  ebizzy: ['threads', 'chunkPages', 'searchNs', 'thinkNs', 'pinned'],
  compute: ['tasks', 'unitNs', 'startOn'],
  hackbench: ['groups', 'pairs', 'messages', 'sendNs', 'receiveNs'],
  'fork-cow': ['parents', 'pages', 'writes', 'workNs', 'parentThreads'],
  'huge-split': ['threads', 'hugePages', 'touchNs', 'reclaimIntervalNs', 'swapPages'],
  'irq-pipeline': ['rate', 'irqVcpus', 'appVcpus', 'processNs'],
  'ipi-bench': ['mode', 'iterations', 'sender', 'target'],
  'will-it-scale': ['test', 'threads', 'pages', 'pinned', 'perVmaLock'],
};

/** Mostly `good`, now and then `bad` (typed as good: it is input the schema must refuse): each scenario has a few things wrong, not everything. */
const pick = <T>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<T> => fc.oneof({ weight: 14, arbitrary: good }, { weight: 1, arbitrary: bad as fc.Arbitrary<T> });
/** Mostly absent (the default), sometimes given. */
const maybe = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: a });
const defined = (o: Record<string, unknown>): Record<string, unknown> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Small values, right and wrong: runs stay microseconds long whatever is drawn. */
const paramValue = pick(
  fc.integer({ min: 1, max: 4 }),
  fc.oneof(
    fc.constantFrom(-1, 0, 0.5, 9, 300, 20_000, 1e13, 1e300),
    fc.boolean(),
    fc.constantFrom('unicast', 'broadcast', 'multicast', 'self', 'page_fault', 'mmap', 'yes', ''),
    fc.array(fc.integer({ min: -1, max: 9 }), { maxLength: 3 }),
    fc.constantFrom(['unicast', 'broadcast'], ['bogus']),
  ),
);

const workload = pick(fc.constantFrom(...Object.keys(PARAMS)), fc.constant('memcached')).chain((kind) =>
  fc
    .dictionary(pick(fc.constantFrom(...(PARAMS[kind] ?? ['tasks'])), fc.constantFrom('thread', 'bogus')), paramValue, { maxKeys: 2 })
    .map((params) => ({ kind, ...params })),
);

const vm = (name: string) =>
  fc
    .record({
      vcpus: pick(fc.integer({ min: 1, max: 4 }), fc.constantFrom(0, -1, 2.5, 9)),
      count: maybe(pick(fc.integer({ min: 1, max: 2 }), fc.constant(5))),
      placement: maybe(fc.constantFrom('pinned', 'shared')),
      pcpus: maybe(fc.array(pick(fc.integer({ min: 0, max: 7 }), fc.constantFrom(-1, 8, 10)), { minLength: 1, maxLength: 4 })),
      weight: maybe(pick(fc.constantFrom(1, 1024, 4096), fc.constantFrom(0, 2_000_000))),
      backend: maybe(pick(fc.constantFrom('trap', 'pv', 'posted'), fc.constantFrom('native', 'trapp'))),
      apicMode: maybe(fc.constantFrom('xapic', 'x2apic-cluster')),
      shootdownStrategy: maybe(pick(fc.constantFrom('sync', 'batched', 'invlpgb', 'invlpgb-all'), fc.constant('latr'))),
      idle: maybe(fc.constantFrom('halt', 'poll', 'haltpoll')),
      coordination: maybe(fc.constantFrom('smp', 'amp')),
      hz: maybe(pick(fc.constantFrom(100, 1000), fc.constant(0))),
      scheduler: maybe(fc.record({ policy: maybe(fc.constantFrom('eevdf', 'cfs')), slice: maybe(pick(fc.constantFrom('100us', '1ms'), fc.constant(0))), llcVcpus: maybe(pick(fc.integer({ min: 1, max: 4 }), fc.constant(0))) }).map(defined)),
      workload,
    })
    .map((v) => ({ name, ...defined(v) }));

/** Scenarios near a valid one: every part may be wrong in the ways users get it wrong. */
const scenarioArb = fc
  .record({
    host: pick(
      fc.oneof(fc.constant({ preset: 'small-1s-8t' }), fc.record({ sockets: fc.integer({ min: 1, max: 2 }), coresPerSocket: fc.integer({ min: 2, max: 4 }), threadsPerCore: fc.integer({ min: 1, max: 2 }), ghz: fc.constantFrom(1, 2.5, 3.5) })),
      fc.constantFrom({ preset: 'small-1s-9t' }, { sockets: 2 }),
    ),
    calibration: maybe(
      fc.record({
        profile: maybe(pick(fc.constantFrom('kvm-skylake-2018', 'kvm-epyc-2021'), fc.constant('kvm-pentium'))),
        overrides: maybe(fc.dictionary(pick(fc.constantFrom('smtCoreThroughput', 'smtPauseShare', 'pauseLatency', 'exitRoundTrip'), fc.constant('warpDrive')), pick(fc.constantFrom(0.5, 1, 1.5), fc.constantFrom(-1, 0, 3, 1e300)), { maxKeys: 2 })),
      }).map(defined),
    ),
    hypervisor: maybe(
      fc
        .record({
          mode: maybe(fc.constantFrom('kvm', 'bare-metal')),
          backend: maybe(pick(fc.constantFrom('trap', 'pv', 'posted'), fc.constantFrom('native', 'telepathy'))),
          postedInterrupts: maybe(fc.boolean()),
          serviceCapacity: maybe(fc.constantFrom(1, 2, 'unlimited')),
          ple: maybe(fc.record({ enabled: fc.boolean() })),
          scheduler: maybe(fc.record({ policy: maybe(pick(fc.constantFrom('eevdf', 'cfs', 'fifo'), fc.constant('lottery'))), timeSlice: maybe(pick(fc.constantFrom('100us', '3ms'), fc.constantFrom(0, 1e300))), hz: maybe(fc.constantFrom(100, 1000)), forfeitOnYield: maybe(fc.boolean()) }).map(defined)),
        })
        .map(defined),
    ),
    vms: fc.oneof({ weight: 5, arbitrary: fc.tuple(vm('a')) }, { weight: 5, arbitrary: fc.tuple(vm('a'), vm('b')) }, { weight: 1, arbitrary: fc.tuple(vm('a'), vm('a')) }),
    run: fc
      .record({
        duration: pick(fc.constantFrom('20us', '50us'), fc.constantFrom(0, 1e300)),
        warmup: maybe(pick(fc.constantFrom(0, '10us'), fc.constant('50us'))),
        seed: maybe(pick(fc.constantFrom(1, 7), fc.constant(Number.MAX_SAFE_INTEGER))),
        replications: maybe(fc.constantFrom(1, 2)),
        slowdownVsAlone: maybe(fc.boolean()),
        slowdownVsBareMetal: maybe(fc.boolean()),
        // Figures of merit: ones every VM has, ones only some workloads have, scoped to a VM or not.
        metrics: maybe(
          fc.array(pick(fc.constantFrom('default', 'p99:shootdown', 'p99.9:wholeCall', 'exits/s:hlt', 'share:guest', 'a=p50:ipiSendToHandler', 'b=default'), fc.constantFrom('throughput', 'p99:irq', 'a=max:unicast', 'c=default', 'p95:shootdown', 'share:nothing')), { minLength: 1, maxLength: 3 }),
        ),
      })
      .map(defined),
  })
  .map((s) => defined(s));

type Outcome = { kind: 'ok' } | { kind: 'input'; message: string } | { kind: 'fault'; error: unknown };

/**
 * What `run` does with a scenario when nothing has checked it beyond the schema's parse: the
 * composition root and the simulation, each replication's seed (as compare and sweep use them),
 * with the extra alone and bare-metal runs. A ScenarioError is the input's fault.
 */
function runUnchecked(raw: unknown): Outcome | undefined {
  const parsed = scenarioSchema.safeParse(raw);
  if (!parsed.success) return undefined; // no run gets this far: the schema is the first thing both do
  const loaded: LoadedScenario = { scenario: parsed.data, dir: FIX, file: 's.yaml' };
  try {
    for (let k = 0; k < parsed.data.run.replications; k++) runWithSlowdown(loaded, parsed.data.run.seed + k);
    return { kind: 'ok' };
  } catch (e) {
    if (e instanceof ScenarioError) return { kind: 'input', message: e.message };
    return { kind: 'fault', error: e };
  }
}

describe('validate = run: the checker accepts exactly the scenarios that run', () => {
  it('a scenario the checker accepts runs to its end; one a run refuses, the checker refused (fast-check, fixed seed)', () => {
    let accepted = 0;
    let refusedByRun = 0;
    fc.assert(
      fc.property(scenarioArb, (raw) => {
        const checked = checkScenario(structuredClone(raw), { dir: FIX, file: 's.yaml', model: true });
        const ran = runUnchecked(structuredClone(raw));
        if (checked.problems.length === 0) {
          accepted++;
          // Accepted: the run must not fail at all, on input or inside.
          if (ran?.kind !== 'ok') throw new Error(`accepted, but the run failed: ${ran?.kind === 'input' ? ran.message : String((ran as { error?: unknown } | undefined)?.error)}`);
        }
        if (ran?.kind === 'input') {
          refusedByRun++;
          expect(checked.problems.length).toBeGreaterThan(0);
        }
      }),
      // FC_NUM_RUNS above 300 searches longer (the global configuration has it).
      { numRuns: Math.max(300, fc.readConfigureGlobal().numRuns ?? 0) },
    );
    if (process.env["CHECK_COUNTS"] === "1") console.log({ accepted, refusedByRun });
    // The generator is near the boundary on both sides: some accepted, some refused by a run.
    expect(accepted).toBeGreaterThan(20);
    expect(refusedByRun).toBeGreaterThan(20);
  }, 120_000);
});
