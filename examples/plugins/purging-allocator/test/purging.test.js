'use strict';
// Run with `npm test` (node's own test runner): the workload laws of @ipilab/testing over random
// VMs, seeds and parameters, and what the purges do.
const test = require('node:test');
const assert = require('node:assert/strict');
const fc = require('fast-check');
const { assertWorkloadLaws, runWorkloadCase, configureProperties } = require('@ipilab/testing');
const { TrapAndEmulateBackend } = require('@ipilab/ipi-trap');
const { ParavirtualBackend } = require('@ipilab/ipi-pv');
const { purgingAllocator } = require('..');

configureProperties();
const trap = (hv, vm) => new TrapAndEmulateBackend(hv, vm);
const pv = (hv, vm) => new ParavirtualBackend(hv, vm);
const policy = { name: 'purging-allocator', policy: purgingAllocator };

test('keeps the workload laws over random VMs, seeds and parameters', () => {
  const params = fc.record(
    { threads: fc.integer({ min: 1, max: 12 }), arenaPages: fc.integer({ min: 1, max: 1024 }), pagesPerOp: fc.integer({ min: 1, max: 8 }), purgeIntervalNs: fc.integer({ min: 10_000, max: 2_000_000 }), purgePages: fc.integer({ min: 1, max: 128 }) },
    { requiredKeys: [] },
  );
  assertWorkloadLaws(policy, { backend: trap, params, numRuns: 8 });
});

test('every purge is a shootdown; purging more often costs the workers operations', () => {
  const run = (purgeIntervalNs) => runWorkloadCase(policy, { vcpus: 4, seed: 1, horizonNs: 10_000_000, params: { threads: 4, purgeIntervalNs } }, trap).result;
  const often = run(200_000);
  const rarely = run(5_000_000);
  // At most 50 at one per 0.2 ms; fewer, as the purge thread shares a vCPU with a busy worker
  // and waits its turn after each sleep.
  assert.ok(often.purges >= 20 && often.purges <= 50, `${often.purges} purges in 10 ms at one per 0.2 ms`);
  assert.ok(often.shootdowns >= often.purges, 'each purge of mapped pages is a shootdown');
  assert.ok(often.ops < rarely.ops, `${often.ops} ops purging every 0.2 ms, ${rarely.ops} every 5 ms`);
});

test('paravirtual IPIs make the purges cheaper for the workers than trap-and-emulate', () => {
  const c = { vcpus: 8, seed: 1, horizonNs: 10_000_000, params: { threads: 8, purgeIntervalNs: 200_000 } };
  const t = runWorkloadCase(policy, c, trap).result;
  const p = runWorkloadCase(policy, c, pv).result;
  assert.ok(p.ops > t.ops, `pv ${p.ops} ops, trap ${t.ops}`);
});
