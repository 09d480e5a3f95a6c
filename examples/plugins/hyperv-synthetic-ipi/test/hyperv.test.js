'use strict';
// Run with `npm test` (node's own test runner): the laws of @ipilab/testing throw, with the
// seed and the shrunk case, when the backend breaks them.
const test = require('node:test');
const assert = require('node:assert/strict');
const { assertDeliveredExactlyOnce } = require('@ipilab/testing');
const { hypervBackend, plan } = require('..');

const vm = (n) => ({ vcpus: Array.from({ length: n }, (_, index) => ({ index })) });
const targets = (m, ids) => ids.map((i) => m.vcpus[i]);

test('every IPI is delivered exactly once, whatever the VM and the sends', () => {
  assertDeliveredExactlyOnce(hypervBackend, { numRuns: 60 });
});

test('targets all below VP 64: one fast HVCALL_SEND_IPI, no banks to read', () => {
  const m = vm(80);
  assert.deepEqual(plan(m, targets(m, [1, 5, 63])), { name: 'HVCALL_SEND_IPI', fast: true, banks: 0 });
});

test('a target at VP 64 or above: HVCALL_SEND_IPI_EX with one sparse bank per 64 VPs that hold a target', () => {
  const m = vm(200);
  assert.deepEqual(plan(m, targets(m, [1, 64])), { name: 'HVCALL_SEND_IPI_EX', fast: false, banks: 2 });
  assert.deepEqual(plan(m, targets(m, [65, 70, 190])), { name: 'HVCALL_SEND_IPI_EX', fast: false, banks: 2 });
});

test('every present vCPU: HV_GENERIC_SET_ALL, no banks', () => {
  const m = vm(100);
  assert.deepEqual(plan(m, m.vcpus), { name: 'HVCALL_SEND_IPI_EX', fast: false, banks: 0 });
});
