'use strict';
// Run with `npm test` (node's own test runner). The guest-balancer laws of @ipilab/testing throw,
// with the seed and the shrunk case, when a balancer breaks them.
const test = require('node:test');
const assert = require('node:assert/strict');
const { assertBalancerLaws, configureProperties } = require('@ipilab/testing');
const { TrapAndEmulateBackend } = require('@ipilab/ipi-trap');
const { imbalanceBalancer, options, LINUX_IMBALANCE_PCT } = require('..');

configureProperties();
const backend = (hv, vm) => new TrapAndEmulateBackend(hv, vm);

test('keeps the guest-balancer laws, at Linux\'s imbalance_pct and at the extremes', () => {
  for (const pct of [LINUX_IMBALANCE_PCT, 100, 400]) assertBalancerLaws(imbalanceBalancer(pct), { backend });
});

/** A view of queues given as task counts (the first of each running), every task free to move anywhere. */
function view(lengths) {
  const free = { pinned: false, allowedOn: () => true };
  return {
    nrVcpus: lengths.length,
    queueLength: (v) => lengths[v],
    nrQueued: (v) => Math.max(0, lengths[v] - 1),
    queuedAt: () => free,
    sliceNs: 3_000_000,
    migrationThresholdNs: 500_000,
  };
}

test('moves only past imbalance_pct, and never just to swap the imbalance', () => {
  const b = imbalanceBalancer(LINUX_IMBALANCE_PCT);
  assert.equal(b.balance(view([2, 1]), 0), null, '2 against 1: a move would only swap them');
  assert.deepEqual(b.balance(view([3, 1]), 0)?.to, 1, '3 against 1: 300 % > 117 %');
  assert.equal(b.balance(view([7, 6]), 0), null, '7 against 6: 117 % of 6 is 7.02');
  assert.deepEqual(b.balance(view([8, 6, 9]), 0)?.to, 1, '8 against 6: 133 %, to the shortest queue');
  assert.equal(imbalanceBalancer(150).balance(view([8, 6]), 0), null, 'at 150 %, 8 against 6 is balanced');
});

test('its options are validated: an integer percentage in [100, 400], 117 by default', () => {
  assert.equal(options.schema.safeParse({}).data.imbalancePct, 117);
  assert.equal(options.schema.safeParse({ imbalancePct: 99 }).success, false);
  assert.equal(options.schema.safeParse({ imbalancePct: 117.5 }).success, false);
  assert.equal(options.schema.safeParse({ imbalance: 120 }).success, false, 'a misspelt option is refused');
});
