'use strict';
// The law catches the bug and shrinks it: the failure names the lost IPI, and gives the seed and
// the path to replay it and the counterexample, as small as fast-check can make it.
// configureProperties(): the project's fixed seed (FC_SEED / FC_NUM_RUNS override it), as
// ipilab's own suite uses.
const test = require('node:test');
const assert = require('node:assert/strict');
const { assertDeliveredExactlyOnce, configureProperties } = require('@ipilab/testing');
const { offByOneBackend } = require('..');

configureProperties();

test('the delivery law catches the lost IPI, with a seed to replay and a shrunk case', () => {
  let failure;
  try {
    assertDeliveredExactlyOnce(offByOneBackend, { numRuns: 100 });
  } catch (e) {
    failure = e;
  }
  assert.ok(failure, 'the law must fail on this backend');
  const text = String(failure.message);
  const cause = String(failure.cause?.message ?? '');
  console.log(`${text.split('\n').slice(0, 4).join('\n')}\ncause: ${cause}`);
  assert.match(text, /seed: \d+, path: "[\d:]+"/);
  assert.match(text, /Counterexample: \[\{"vcpus":\d+/);
  // Shrunk to one sender and one multicast (a send to one vCPU loses nothing), in the law's VM
  // or in the neighbour VM the law may run beside it.
  const counterexample = JSON.parse(text.match(/Counterexample: (\[.*\])/)[1])[0];
  const senders = [...counterexample.senders, ...(counterexample.neighbour?.senders ?? [])];
  assert.equal(senders.length, 1);
  assert.equal(senders[0].ops.length, 1);
  assert.ok(senders[0].ops[0].targets.length >= 2);
  assert.match(cause, /reached vCPU \d+ 0 times, expected exactly once/);
});
