'use strict';
// A deliberately broken ipilab plugin: a hypercall backend whose loop over the targets stops one
// short (`i < n - 1`), so the last target of every multicast never gets its IPI. Its test shows
// the delivery law catching it and fast-check shrinking the case to the smallest send that
// loses an IPI; docs/plugins.md quotes the failure.
const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { ipiBackends } = require('@ipilab/hypervisor');

class OffByOneBackend {
  constructor(host, vm) {
    this.name = 'off-by-one';
    this.host = host;
    this.vm = vm;
  }

  send(req, done) {
    const host = this.host;
    if (req.kind === 'self') {
      host.selfIpi(req.sender, req.vector, req.id, done);
      return;
    }
    // The bug: `n - 1` where `n` was meant (the last target is skipped when there are several).
    const n = req.targets.length;
    const reached = n === 1 ? req.targets : req.targets.slice(0, n - 1);
    host.exit(req.sender, 'hypercall', host.costs.exitRoundTrip + host.costs.hypercallHandling, (reenter) => host.deliverAll(req.sender, reached, req.vector, req.id, reenter), done);
  }
}

const offByOneBackend = (host, vm) => new OffByOneBackend(host, vm);

module.exports = new ContainerModule((options) => {
  contributePolicy(options, ipiBackends, 'off-by-one', offByOneBackend);
});
module.exports.offByOneBackend = offByOneBackend;
