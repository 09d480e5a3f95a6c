'use strict';
// Run with `npm test` (node's own test runner). The host-scheduler laws of @ipilab/testing, and
// the policy's own law (co-start), as fast-check properties with the project's fixed seed.
const test = require('node:test');
const assert = require('node:assert/strict');
const fc = require('fast-check');
const { assertHostSchedulerLaws, configureProperties, runHostSchedScenario } = require('@ipilab/testing');
const { coschedPolicy, options } = require('..');

configureProperties();

// The laws' hosts run a 1 ms slice (hypervisor.scheduler.timeSlice).
const SLICE_NS = 1_000_000;

test('keeps the host-scheduler laws (exclusive, conserving, no starvation, fair among equals, deterministic)', () => {
  assertHostSchedulerLaws(coschedPolicy(), {
    // Up to 12 threads on a pCPU, in up to 3 VMs: one turn (a slice) per VM per round, and a VM's
    // 4 threads on one pCPU take turns over 4 of its slices: 12 slices, and the switches.
    maxWaitNs: 13 * SLICE_NS,
    // Weights are ignored: each VM gets one slice per round.
    fairnessTolerance: 0.02,
    // A sleeper woken in another VM's slice waits for that slice to end (strict gangs).
    wakeupBoundNs: SLICE_NS + 100_000,
  });
});

/** Random hosts; 2 or 3 VMs, vCPU i of each on pCPU i (shared, no migration), hogs and sleepers. */
const gangCase = fc
  .record({ sockets: fc.integer({ min: 1, max: 2 }), coresPerSocket: fc.integer({ min: 1, max: 3 }), threadsPerCore: fc.integer({ min: 1, max: 2 }) })
  .chain((h) => {
    const n = h.sockets * h.coresPerSocket * h.threadsPerCore;
    const behaviour = fc.oneof(
      fc.constant({ kind: 'hog' }),
      fc.record({ kind: fc.constant('sleeper'), runNs: fc.integer({ min: 50_000, max: 2_000_000 }), sleepNs: fc.integer({ min: 50_000, max: 3_000_000 }) }),
    );
    const vm = fc.record({ vcpus: fc.array(behaviour, { minLength: 1, maxLength: n }), placement: fc.constant('shared'), weight: fc.constant(1024) });
    return fc.array(vm, { minLength: 2, maxLength: 3 }).map((vms) => ({ ...h, migrate: false, vms }));
  });

/**
 * Co-start: while a VM's gang holds the host, each of its runnable vCPUs runs: none waits
 * runnable (state `preempted`) inside its gang's slice longer than a reschedule IPI across the
 * host, a vCPU switch and a wake-up take. Returns the worst such wait and the bound.
 */
function worstGangWait(makePolicy, s) {
  const gangs = [];
  const o = runHostSchedScenario(s, makePolicy((t, vm) => gangs.push([t, vm])), 30_000_000, true);
  const c = o.hv.costs;
  const bound = c.ipiWireRemote + c.vcpuSwitch + c.hostWakeLatency;
  /** Slices [start, end) of VM `vm`. */
  const slicesOf = (vm) => gangs.flatMap(([t, g], i) => (g === vm ? [[t, i + 1 < gangs.length ? gangs[i + 1][0] : o.end]] : []));
  const waits = new Map();
  const intervals = [];
  for (const e of o.events) {
    if (e.type !== 'vcpu-state') continue;
    const key = `${e.vcpu.vm}.${e.vcpu.vcpu}`;
    if (e.to === 'preempted') waits.set(key, e.t);
    else if (e.from === 'preempted' && waits.has(key)) {
      intervals.push([e.vcpu.vm, waits.get(key), e.t]);
      waits.delete(key);
    }
  }
  for (const [key, t] of waits) intervals.push([Number(key.split('.')[0]), t, o.end]);
  let worst = 0;
  for (const [vm, a, b] of intervals) {
    for (const [s0, s1] of slicesOf(vm)) worst = Math.max(worst, Math.min(b, s1) - Math.max(a, s0));
  }
  return { worst, bound };
}

test('co-start: a runnable vCPU of the running gang waits no longer than a reschedule IPI and a switch', () => {
  fc.assert(
    fc.property(gangCase, (s) => {
      const { worst, bound } = worstGangWait((onGang) => coschedPolicy({ onGang }), s);
      assert.ok(worst <= bound, `a vCPU of the running gang waited ${worst} ns in its slice, over ${bound} ns`);
    }),
    { numRuns: 60 },
  );
});

test('co-start needs the remote reschedule: without it, a gang that starts early waits for the other pCPUs\' turns', () => {
  // The same policy with ctx.reschedule a no-op: pCPUs learn of a new gang only at their own tick.
  const noCoStart = (onGang) => {
    const p = coschedPolicy({ onGang });
    return { ...p, createRunqueue: (ctx) => p.createRunqueue({ ...ctx, reschedule: () => undefined }) };
  };
  const broken = fc.check(fc.property(gangCase, (s) => worstGangWait(noCoStart, s).worst <= worstGangWait(noCoStart, s).bound), { numRuns: 60 });
  assert.equal(broken.failed, true, 'the co-start law should catch a policy that never reschedules other pCPUs');
});

test('its options: sliceNs an integer in [10 us, 1 s], or the host\'s timeSlice', () => {
  assert.equal(options.schema.safeParse({}).success, true);
  assert.equal(options.schema.safeParse({ sliceNs: 5_000 }).success, false);
  assert.equal(options.schema.safeParse({ slice: 3_000_000 }).success, false, 'a misspelt option is refused');
});
