'use strict';
// The placement's laws, as properties over random hosts and VMs (fast-check, the project's
// fixed seed through configureProperties): every vCPU gets one pCPU, free and its own; a VM that
// fits on one socket is on one socket; otherwise it spans no more sockets than it must.
const test = require('node:test');
const assert = require('node:assert/strict');
const fc = require('fast-check');
const { HostTopology } = require('@ipilab/host');
const { assertPlacementLaws, configureProperties } = require('@ipilab/testing');
const { numaPinned } = require('..');

configureProperties();

const host = fc.record({ sockets: fc.integer({ min: 1, max: 4 }), coresPerSocket: fc.integer({ min: 1, max: 12 }), threadsPerCore: fc.integer({ min: 1, max: 2 }) });

function request(topology, vcpus, taken) {
  return { field: 'vms[0]', vcpus, pcpus: undefined, topology, isTaken: (p) => taken.has(p) };
}

test('each vCPU gets a free pCPU of its own, on as few sockets as possible', () => {
  fc.assert(
    fc.property(host, fc.nat(), fc.array(fc.nat(), { maxLength: 20 }), (spec, n, takenSeeds) => {
      const topology = new HostTopology({ ...spec, ghz: 2.5 });
      const taken = new Set(takenSeeds.map((s) => s % topology.size));
      const free = topology.size - taken.size;
      if (free === 0) return;
      const vcpus = 1 + (n % free);
      const placed = numaPinned.place(request(topology, vcpus, taken)).map((set) => set[0]);
      assert.equal(placed.length, vcpus);
      assert.equal(new Set(placed).size, vcpus, 'no pCPU twice');
      for (const p of placed) assert.ok(!taken.has(p), 'only free pCPUs');
      // The fewest sockets that can hold the VM: take the sockets with most free pCPUs first.
      const freePerSocket = Array.from({ length: spec.sockets }, (_, s) => topology.pcpus.filter((p) => p.socket === s && !taken.has(p.id)).length).sort((a, b) => b - a);
      let need = 0;
      for (let left = vcpus; left > 0; need++) left -= freePerSocket[need];
      const used = new Set(placed.map((p) => topology.pcpus[p].socket)).size;
      assert.equal(used, need, `${vcpus} vCPUs on ${used} sockets, ${need} would do`);
    }),
  );
});

test('one thread per core before SMT siblings', () => {
  const topology = new HostTopology({ sockets: 1, coresPerSocket: 4, threadsPerCore: 2, ghz: 2.5 });
  const placed = numaPinned.place(request(topology, 4, new Set())).map((set) => topology.pcpus[set[0]]);
  assert.deepEqual(placed.map((p) => p.thread), [0, 0, 0, 0]);
  assert.equal(new Set(placed.map((p) => p.core)).size, 4);
});

test('keeps the vCPU-placement laws of @ipilab/testing (every family\'s policy runs them)', () => {
  assertPlacementLaws(numaPinned);
});
