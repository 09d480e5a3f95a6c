'use strict';
// An ipilab plugin: a guest load balancer that moves work only past an imbalance threshold
// (`vms[].scheduler.balancer: imbalance-pct`, or `{ name: imbalance-pct, options: { imbalancePct: 125 } }`).
//
// Linux's load balancer leaves two run queues alone unless the busier one carries more than
// imbalance_pct % of the other's load (kernel/sched/fair.c find_busiest_group:
// `100 * busiest->avg_load <= env->sd->imbalance_pct * local->avg_load` -> balanced), with
// imbalance_pct 117 for an ordinary domain (kernel/sched/topology.c sd_init; 125 before Linux
// 5.10). And it moves a task only when that leaves the queues closer, not the imbalance merely
// reversed (a queue of 2 against 1 stays). Here a queue's load is its task count (every task of
// weight nice 0), the view a balancer gets (BalanceView.queueLength).
//
// The built-in `push` balancer instead moves whenever the wait a move saves exceeds the
// migration threshold; this one ignores wait and slice and only counts tasks, as the kernel's
// first test does.
const { ContainerModule } = require('inversify');
const { z } = require('zod');
const { contributePolicy } = require('@ipilab/di');
const { guestBalancers } = require('@ipilab/guest');

/** sd_init's imbalance_pct (kernel/sched/topology.c, Linux 5.10 and later). */
const LINUX_IMBALANCE_PCT = 117;

/** The balancer for one imbalance_pct. Per chunk: no allocation unless it moves. */
function imbalanceBalancer(imbalancePct) {
  return {
    name: 'imbalance-pct',
    balance(view, from) {
      const queued = view.nrQueued(from);
      if (queued === 0) return null;
      let task = null;
      for (let i = 0; i < queued; i++) {
        const t = view.queuedAt(from, i);
        if (!t.pinned) {
          task = t;
          break;
        }
      }
      if (task === null) return null;
      const mine = view.queueLength(from);
      let best = -1;
      let bestLen = Infinity;
      for (let w = 0; w < view.nrVcpus; w++) {
        if (w === from || !task.allowedOn(w)) continue;
        const len = view.queueLength(w);
        if (len < bestLen) {
          bestLen = len;
          best = w;
        }
      }
      if (best < 0) return null;
      // Balanced unless this queue is more than imbalancePct % of the other's.
      if (100 * mine <= imbalancePct * bestLen) return null;
      // A move must leave the two closer: mine - 1 > bestLen + 1 is closer only when mine - bestLen >= 2.
      if (mine - bestLen < 2) return null;
      return { task, to: best };
    },
  };
}

const options = {
  schema: z.object({ imbalancePct: z.number().int().min(100).max(400).default(LINUX_IMBALANCE_PCT) }).strict(),
  configure: (o) => imbalanceBalancer(o.imbalancePct),
};

module.exports = new ContainerModule((bind) => {
  contributePolicy(bind, guestBalancers, 'imbalance-pct', imbalanceBalancer(LINUX_IMBALANCE_PCT), options);
});
module.exports.imbalanceBalancer = imbalanceBalancer;
module.exports.LINUX_IMBALANCE_PCT = LINUX_IMBALANCE_PCT;
module.exports.options = options;
