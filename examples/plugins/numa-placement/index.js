'use strict';
// An ipilab plugin: NUMA-aware pinned placement (`vms[].placement: numa-pinned`). Like the
// built-in `pinned`, each vCPU gets a pCPU of its own; unlike it (which takes the free pCPUs in
// id order, spilling across sockets), it keeps a VM on as few sockets as it can: the whole VM on
// the one socket with the most free pCPUs when it fits, else socket by socket, fullest-free
// first. Within a socket, one thread per core before SMT siblings. This is what pinning by
// hand, or numad / libvirt's `numatune` with `placement='auto'`, aims at: IPIs between a VM's
// vCPUs then stay within a socket (ipilab's wire and cache-line costs by distance).
const { ContainerModule } = require('inversify');
const { InvalidParameterError } = require('@ipilab/core');
const { contributePolicy } = require('@ipilab/di');
const { placementPolicies } = require('@ipilab/hypervisor');

/** The free pCPUs of each socket, one thread per core first, then the siblings. */
function freeBySocket(req) {
  // A pCPU listed twice is one pCPU: two vCPUs must never be pinned to it.
  const pool = new Set(req.pcpus ?? req.topology.pcpus.map((p) => p.id));
  const sockets = new Map();
  for (const id of pool) {
    if (req.isTaken(id)) continue;
    const p = req.topology.pcpus[id];
    if (!sockets.has(p.socket)) sockets.set(p.socket, []);
    sockets.get(p.socket).push(p);
  }
  for (const list of sockets.values()) list.sort((a, b) => a.thread - b.thread || a.core - b.core);
  return [...sockets.entries()].map(([socket, list]) => ({ socket, ids: list.map((p) => p.id) }));
}

const numaPinned = {
  name: 'numa-pinned',
  exclusive: true,
  place(req) {
    const sockets = freeBySocket(req).sort((a, b) => b.ids.length - a.ids.length || a.socket - b.socket);
    const free = sockets.reduce((n, s) => n + s.ids.length, 0);
    if (free < req.vcpus) {
      // A refusal names the VM's field, as a built-in's does (the placement law checks it).
      throw new InvalidParameterError(`${req.field}.vcpus`, req.vcpus, `at most ${free} pinned vCPUs: only ${free} pCPUs are free for pinning`);
    }
    const fits = sockets.find((s) => s.ids.length >= req.vcpus);
    const order = fits !== undefined ? fits.ids : sockets.flatMap((s) => s.ids);
    return order.slice(0, req.vcpus).map((id) => [id]);
  },
};

module.exports = new ContainerModule((options) => {
  contributePolicy(options, placementPolicies, 'numa-pinned', numaPinned);
});
module.exports.numaPinned = numaPinned;
