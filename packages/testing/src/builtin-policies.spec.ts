import type { IpiBackendFactory } from '@ipilab/hypervisor';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import { assertTlbCoherence, BUILTIN_SHOOTDOWN_STRATEGIES, type TlbScenario } from './laws/tlb-coherence-law';
import { InvalidParameterError } from '@ipilab/core';
import { CALIBRATION_PROFILES, KVM_SKYLAKE_2018 } from '@ipilab/calibration';
import { PUSH_BALANCER, WORKLOADS, WORKLOAD_PARAMS, type GuestLoadBalancer, type WorkloadPolicy } from '@ipilab/guest';
import { HOST_PRESETS } from '@ipilab/host';
import { PINNED_PLACEMENT, type PlacementPolicy } from '@ipilab/hypervisor';
import { LawFailure } from './law-runner';
import { assertPlacementLaws, BUILTIN_PLACEMENTS } from './laws/placement-law';
import { assertBalancerLaws, BUILTIN_BALANCERS } from './laws/balancer-law';
import { assertWorkloadLaws } from './laws/workload-law';
import { assertCalibrationProfileLaws, assertHostPresetLaws } from './laws/data-policy-laws';
import fc from 'fast-check';
// The backends run the delivery, coherence, conservation and determinism laws in their own
// packages (ipi-*/src/*-backend.spec.ts) and the host schedulers theirs in
// laws/host-scheduler-law.spec.ts; here each shootdown strategy, by name, runs the coherence law.
const trap: IpiBackendFactory = (hv, vm) => new TrapAndEmulateBackend(hv, vm);

describe('every built-in shootdown strategy keeps TLBs coherent (given to the law by name)', () => {
  for (const name of Object.keys(BUILTIN_SHOOTDOWN_STRATEGIES) as TlbScenario['strategy'][]) {
    it(name, () => assertTlbCoherence(trap, { strategy: name, numRuns: 40 }));
  }
});


/** Expects `run` to throw a LawFailure whose reason matches `reason`, and returns it. */
function lawFails(run: () => void, reason: RegExp): LawFailure {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(LawFailure);
    expect((e as LawFailure).reason).toMatch(reason);
    return e as LawFailure;
  }
  throw new Error('the law held for a broken policy');
}

describe('every built-in vCPU placement keeps the placement laws (by name)', () => {
  for (const name of Object.keys(BUILTIN_PLACEMENTS)) it(name, () => assertPlacementLaws(name));

  it('a placement that gives two vCPUs one pCPU is caught, shrunk to a 2-vCPU VM', () => {
    const doubled: PlacementPolicy = { name: 'doubled', exclusive: true, place: (req) => PINNED_PLACEMENT.place(req).map((s, i, all) => (i === 1 ? all[0]! : s)) };
    const f = lawFails(() => assertPlacementLaws(doubled), /is given to two vCPUs/);
    expect(f.counterexample).toMatch(/"vcpus":2/);
  });

  it('a placement that refuses a VM that fits, or throws a plain Error, is caught', () => {
    const picky: PlacementPolicy = { name: 'picky', exclusive: false, place: (req) => { if (req.vcpus > 3) throw new InvalidParameterError(`${req.field}.vcpus`, req.vcpus, 'at most 3'); return BUILTIN_PLACEMENTS['shared']!.place(req); } };
    lawFails(() => assertPlacementLaws(picky), /refused 4 vCPUs/);
    const rude: PlacementPolicy = { name: 'rude', exclusive: false, place: () => { throw new Error('no'); } };
    lawFails(() => assertPlacementLaws(rude), /not an InvalidParameterError/);
  });
});

describe('every built-in guest load balancer keeps the balancer laws (by name)', () => {
  for (const name of Object.keys(BUILTIN_BALANCERS)) it(name, () => assertBalancerLaws(name, { backend: trap }));

  it('a balancer that moves pinned tasks is caught, shrunk to one pinned task', () => {
    const careless: GuestLoadBalancer = {
      name: 'careless',
      balance: (view, from) => (view.nrQueued(from) > 0 && view.nrVcpus > 1 ? { task: view.queuedAt(from, 0), to: (from + 1) % view.nrVcpus } : null),
    };
    const f = lawFails(() => assertBalancerLaws(careless, { backend: trap }), /pinned|outside its affinity/);
    expect(f.counterexample).toMatch(/queues/);
  });

  it('a balancer that moves a task to its own vCPU is caught', () => {
    const self: GuestLoadBalancer = { name: 'self', balance: (view, from) => (view.nrQueued(from) > 0 ? { task: view.queuedAt(from, 0), to: from } : null) };
    lawFails(() => assertBalancerLaws(self, { backend: trap }), /to its own vCPU|pinned/);
  });

  it('the push balancer under a wrapper that reports moves is the push balancer (the law sees through wrappers)', () => {
    expect(() => assertBalancerLaws({ name: 'wrapped', balance: (v, f) => PUSH_BALANCER.balance(v, f) }, { backend: trap, numRuns: 20 })).not.toThrow();
  });
});

describe('every built-in workload keeps the workload laws (by name)', () => {
  for (const name of Object.keys(WORKLOADS)) it(name, () => assertWorkloadLaws(name, { backend: trap, numRuns: 4 }));

  it('a workload that reads Math.random is caught', () => {
    const base = WORKLOADS['compute']!;
    const dice: WorkloadPolicy = { params: WORKLOAD_PARAMS['compute']!, create: (ctx, params) => { const w = base(ctx, params); return { ...w, kind: w.kind, primary: w.primary, start: () => { Math.random(); w.start(); }, result: (ns) => w.result(ns) }; } };
    lawFails(() => assertWorkloadLaws({ name: 'dice', policy: dice }, { backend: trap, numRuns: 2 }), /Math\.random/);
  });

  it('a workload whose primary figure is missing from its result is caught', () => {
    const base = WORKLOADS['compute']!;
    const lost: WorkloadPolicy = { params: WORKLOAD_PARAMS['compute']!, create: (ctx, params) => { const w = base(ctx, params); return { kind: w.kind, primary: { key: 'nowhere', higherIsBetter: true }, start: () => w.start(), result: (ns) => w.result(ns) }; } };
    lawFails(() => assertWorkloadLaws({ name: 'lost', policy: lost }, { backend: trap, numRuns: 2 }), /primary figure "nowhere" is still undefined/);
  });
});

describe('every built-in host preset and calibration profile keeps its law (by name)', () => {
  for (const name of Object.keys(HOST_PRESETS)) it(`host preset ${name}`, () => assertHostPresetLaws(name));
  for (const name of Object.keys(CALIBRATION_PROFILES)) it(`calibration profile ${name}`, () => assertCalibrationProfileLaws(name));

  it('a preset past 288 CPUs, or with half a socket, is caught', () => {
    lawFails(() => assertHostPresetLaws({ name: 'huge', description: 'too big', sockets: 4, coresPerSocket: 64, threadsPerCore: 2, ghz: 2 }), /more than the 288/);
    lawFails(() => assertHostPresetLaws({ name: 'half', description: 'x', sockets: 1.5, coresPerSocket: 4, threadsPerCore: 1, ghz: 2 }), /sockets: expected a whole number/);
  });

  it('a preset in its options form is checked for every option set its schema accepts', () => {
    const schema = { safeParse: (x: unknown) => (typeof x === 'object' && x !== null && Number.isSafeInteger((x as { sockets?: unknown }).sockets) ? { success: true as const, data: x as { sockets: number } } : { success: false as const, error: { issues: [] } }) };
    const sized = { schema, configure: (o: { sockets: number }) => ({ name: 'sized', description: 'n sockets', sockets: o.sockets, coresPerSocket: 40, threadsPerCore: 2, ghz: 2.5 }) };
    lawFails(() => assertHostPresetLaws({ options: sized, arbitrary: fc.record({ sockets: fc.integer({ min: 1, max: 8 }) }) }), /more than the 288/);
    expect(() => assertHostPresetLaws({ options: sized, arbitrary: fc.record({ sockets: fc.integer({ min: 1, max: 3 }) }) })).not.toThrow();
  });

  it('a profile with a figure without its source, or with the remote wire faster than the local one, is caught', () => {
    lawFails(() => assertCalibrationProfileLaws({ ...KVM_SKYLAKE_2018, name: 'nosource', costs: { ...KVM_SKYLAKE_2018.costs, exitRoundTrip: { ...KVM_SKYLAKE_2018.costs.exitRoundTrip, source: '' } } }), /costs\.exitRoundTrip\.source/);
    lawFails(() => assertCalibrationProfileLaws({ ...KVM_SKYLAKE_2018, name: 'inverted', costs: { ...KVM_SKYLAKE_2018.costs, ipiWireRemote: { value: 1, unit: 'ns', source: 'a typo' } } }), /ipiWireSocket <= ipiWireRemote/);
  });
});
