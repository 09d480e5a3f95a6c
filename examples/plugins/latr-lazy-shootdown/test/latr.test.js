'use strict';
// Run with `npm test` (node's own test runner): the TLB coherence law of @ipilab/testing throws,
// with the seed and the shrunk case, when the strategy breaks it.
const test = require('node:test');
const assert = require('node:assert/strict');
const path = require('node:path');
const { assertTlbCoherence } = require('@ipilab/testing');
const { TrapAndEmulateBackend } = require('@ipilab/ipi-trap');
const { loadScenario, runScenario } = require('@ipilab/scenario');
const { LatrShootdown, registered } = require('..');

const trap = (hv, vm) => new TrapAndEmulateBackend(hv, vm);

test('TLB coherence: frees lazily, everything else synchronously, no stale translation once the frames are reused', () => {
  const latr = new LatrShootdown();
  assertTlbCoherence(trap, { strategy: () => latr, numRuns: 80 });
  // The law's cases reached both paths, and the lazy states were swept and released.
  assert.ok(latr.stats.states > 0, 'some frees were lazy');
  assert.ok(latr.stats.synchronous > 0, 'in-place changes took the synchronous path');
  assert.ok(latr.stats.released > 0, 'swept states released their pages');
});

test('on a munmap-heavy workload (ebizzy) it sends no shootdown multicast and fewer IPIs than sync, and releases what it deferred', () => {
  const file = path.join(__dirname, '..', 'scenario.yaml');
  const run = (strategy) => runScenario(loadScenario(file, [`vms[0].shootdownStrategy=${strategy}`])).vms.churn;
  const sync = run('sync');
  const before = { ...registered.stats };
  const latr = run('latr');
  const sent = (v) => Object.values(v.ipi.sent).reduce((a, b) => a + b, 0);
  assert.ok(sync.ipi.sent.multicast > 1000, `sync multicasts its shootdowns (${sync.ipi.sent.multicast})`);
  assert.equal(latr.ipi.sent.multicast ?? 0, 0);
  assert.ok(sent(latr) < sent(sync), `latr sent ${sent(latr)} IPIs, sync ${sent(sync)}`);
  // munmap's flush returns after the local invalidation: a fraction of sync's wait.
  assert.ok(latr.ipi.latency.shootdown.mean < sync.ipi.latency.shootdown.mean / 2);
  const states = registered.stats.states - before.states;
  const released = registered.stats.released - before.released;
  assert.ok(states > 1000, `${states} lazy states`);
  // All but the few still waiting for a vCPU's tick or switch when the run stopped.
  assert.ok(states - released <= 32, `${released} of ${states} released`);
});
