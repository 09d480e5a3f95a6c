import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { stringify } from 'yaml';
import {
  baseScenario,
  canonicalJson,
  compareScenario,
  loadScenario,
  loadScenarioRef,
  provenance,
  provenanceSchema,
  runOutputSchema,
  runScenario,
  runsWithSlowdown,
  runWithSlowdown,
  scenarioSha256,
  toJsonValue,
  validateScenario,
  type RunProgress,
} from './index';

const FIX = join(__dirname, '..', 'test', 'fixtures');
const EXAMPLES = join(__dirname, '..', '..', '..', 'examples', 'scenarios');
const small = join(FIX, 'small.yaml');

function file(obj: unknown): string {
  const f = join(mkdtempSync(join(tmpdir(), 'ipilab-prov-')), 's.yaml');
  writeFileSync(f, stringify(obj));
  return f;
}

/** The same value with every object's keys in reverse order. */
function reversedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(reversedKeys);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).reverse().map(([k, x]) => [k, reversedKeys(x)]));
  return v;
}

/** Scenarios a user could write: presets or explicit hosts, durations as text or ns, defaults left out or given. */
const scenarioArb = fc.record(
  {
    name: fc.constantFrom('a', 'what-if'),
    host: fc.oneof(fc.constant({ preset: 'small-1s-8t' }), fc.constant({ sockets: 1, coresPerSocket: 4, threadsPerCore: 2, ghz: 2.5 })),
    hypervisor: fc.record({ backend: fc.constantFrom('trap', 'pv', 'posted'), scheduler: fc.record({ policy: fc.constantFrom('eevdf', 'cfs') }, { requiredKeys: [] }) }, { requiredKeys: [] }),
    vms: fc.array(
      fc.record(
        {
          vcpus: fc.integer({ min: 1, max: 4 }),
          placement: fc.constantFrom('pinned', 'shared'),
          count: fc.integer({ min: 1, max: 2 }),
          workload: fc.oneof(fc.constant({ kind: 'compute', tasks: 2 }), fc.constant({ kind: 'ebizzy', chunkPages: 4 })),
        },
        { requiredKeys: ['vcpus', 'workload'] },
      ),
      { minLength: 1, maxLength: 3 },
    ),
    run: fc.record({ duration: fc.constantFrom('1ms', '250us', 2_000_000), seed: fc.nat(1000), warmup: fc.constantFrom(0, '100us') }, { requiredKeys: [] }),
  },
  { requiredKeys: ['vms'] },
).map((s) => ({ ...s, vms: s.vms.map((vm, i) => ({ name: `vm${i}`, ...vm })) }));

describe('provenance', () => {
  it('canonical JSON does not depend on key order, and reads back as the same value (law)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(canonicalJson(reversedKeys(v))).toBe(canonicalJson(v));
        expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
      }),
    );
  });

  it('a resolved scenario validates to itself, so a rerun runs exactly it, and its hash does not depend on key order (law)', () => {
    fc.assert(
      fc.property(scenarioArb, (raw) => {
        const resolved = validateScenario(structuredClone(raw));
        const again = validateScenario(JSON.parse(JSON.stringify(resolved)));
        expect(again).toEqual(resolved);
        expect(scenarioSha256(reversedKeys(resolved))).toBe(scenarioSha256(resolved));
      }),
    );
  });

  it('every example resolves to a fixed point and its hash changes with any value', () => {
    for (const f of readdirSync(EXAMPLES).filter((n) => n.endsWith('.yaml'))) {
      const { scenario } = loadScenario(join(EXAMPLES, f));
      expect(validateScenario(JSON.parse(JSON.stringify(scenario)))).toEqual(scenario);
      const changed = { ...scenario, run: { ...scenario.run, seed: scenario.run.seed + 1 } };
      expect(scenarioSha256(changed)).not.toBe(scenarioSha256(scenario));
    }
  });

  it('builds the block: version, Node, OS, the scenario as run with its hash, overrides, seeds and times', () => {
    const loaded = loadScenario(small, ['run.seed=9']);
    const m = provenance({
      ipilab: { version: '9.9.9', commit: 'a'.repeat(40), modified: false },
      command: 'run',
      scenarioFile: small,
      scenarioDir: loaded.dir,
      scenario: loaded.scenario,
      resolved: true,
      overrides: { set: ['run.seed=9'] },
      seeds: [9],
      replications: 1,
      startedAt: new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)),
      wallSeconds: 1.23456,
    });
    expect(provenanceSchema.parse(m)).toEqual(m);
    expect(m).toMatchObject({ node: process.version, os: process.platform, arch: process.arch, startedAt: '2026-01-02T03:04:05.006Z', wallSeconds: 1.235, seeds: [9] });
    expect(m.scenario).toEqual(JSON.parse(JSON.stringify(loaded.scenario)));
    expect(m.scenarioSha256).toBe(scenarioSha256(loaded.scenario));
    // A run output with the block still matches the documented schema; without it too.
    const out = toJsonValue(runScenario(loaded));
    expect(runOutputSchema.safeParse({ ...(out as object), meta: m }).success).toBe(true);
    expect(runOutputSchema.safeParse(out).success).toBe(true);
    expect(runOutputSchema.safeParse({ ...(out as object), meta: { ...m, scenarioSha256: 'x' } }).success).toBe(false);
  });

  it('a recorded scenario runs as the file did: same output, same comparison', () => {
    const loaded = loadScenario(small, ['hypervisor.backend=trap']);
    const recorded = { file: small, dir: loaded.dir, raw: JSON.parse(JSON.stringify(loaded.scenario)) as Record<string, unknown> };
    expect(loadScenarioRef(recorded)).toEqual(loaded);
    expect(JSON.stringify(runScenario(loadScenarioRef(recorded)))).toBe(JSON.stringify(runScenario(loaded)));
    const fromFile = compareScenario(small, ['hypervisor.backend=trap'], 'vms[0].vcpus=2,4');
    expect(compareScenario(recorded, [], 'vms[0].vcpus=2,4')).toEqual(fromFile);
  });

  it('the base of a compare is resolved when valid alone, kept as written when only the varied key completes it', () => {
    const ok = baseScenario(small, ['run.seed=3']);
    expect(ok.resolved).toBe(true);
    expect(ok.scenario).toEqual(loadScenario(small, ['run.seed=3']).scenario);
    const incomplete = file({ host: { preset: 'small-1s-8t' }, vms: [{ name: 'a', workload: { kind: 'compute' } }], run: { duration: '1ms' } });
    const b = baseScenario(incomplete, []);
    expect(b.resolved).toBe(false);
    expect(b.scenario).toEqual({ host: { preset: 'small-1s-8t' }, vms: [{ name: 'a', workload: { kind: 'compute' } }], run: { duration: '1ms' } });
    // Re-applying the axis to the recorded base gives each variant again.
    const recorded = { file: incomplete, dir: b.dir, raw: b.scenario };
    expect(compareScenario(recorded, [], 'vms[0].vcpus=1,2')).toEqual(compareScenario(incomplete, [], 'vms[0].vcpus=1,2'));
  });
});

describe('progress of a run', () => {
  it('reports simulated time rising to the duration, slice by slice, and does not change the output', () => {
    const loaded = loadScenario(small);
    const seen: [number, number][] = [];
    const watched = runScenario(loaded, { onProgress: (ns, events) => seen.push([ns, events]) });
    expect(JSON.stringify(watched)).toBe(JSON.stringify(runScenario(loaded)));
    expect(seen.length).toBeGreaterThanOrEqual(32);
    for (let i = 1; i < seen.length; i++) {
      expect(seen[i]![0]).toBeGreaterThan(seen[i - 1]![0]);
      expect(seen[i]![1]).toBeGreaterThanOrEqual(seen[i - 1]![1]);
    }
    expect(seen.at(-1)).toEqual([watched.simulatedNs, watched.events]);
    expect(watched.simulatedNs).toBe(loaded.scenario.run.duration);
  });

  it('numbers the runs of a run with baselines: the scenario, each VM alone, each VM on bare metal', () => {
    const loaded = loadScenario(small, ['run.slowdownVsAlone=true', 'run.slowdownVsBareMetal=true']);
    expect(runsWithSlowdown(loaded)).toBe(5);
    const seen: RunProgress[] = [];
    const out = runWithSlowdown(loaded, undefined, (p) => seen.push(p));
    expect(JSON.stringify(out)).toBe(JSON.stringify(runWithSlowdown(loaded)));
    expect([...new Set(seen.map((p) => p.run))]).toEqual([1, 2, 3, 4, 5]);
    expect(seen.every((p) => p.runs === 5 && p.durationNs === loaded.scenario.run.duration && p.simulatedNs <= p.durationNs)).toBe(true);
    expect(runsWithSlowdown(loadScenario(small))).toBe(1);
  });
});
