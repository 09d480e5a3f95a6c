import { ContainerModule } from 'inversify';
import { RandomStreams, Simulation } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import { bindPolicyRegistry, contributePolicy, type PolicyRegistry } from '@ipilab/di';
import { EventSink } from '@ipilab/events';
import type { HostTopology } from '@ipilab/host';
import { Hypervisor, type HypervisorConfig } from './hypervisor';
import { ipiBackends } from './ipi-backend';
import { PINNED_PLACEMENT, SHARED_PLACEMENT } from './placement';
import { placementPolicies } from './placement-policy';
import { CFS_POLICY } from './sched/cfs-policy';
import { EEVDF_POLICY } from './sched/eevdf-policy';
import { FIFO_POLICY } from './sched/fifo-policy';
import { HostSchedulerRegistry, hostSchedulers, type HostSchedulerPolicy } from './sched/host-scheduler';

/** What the composition root supplies to build the hypervisor: the host, resolved costs, config. */
export interface HypervisorSetup {
  readonly topology: HostTopology;
  readonly costs: Costs;
  readonly config: HypervisorConfig;
  /** Host scheduler policy, by name (looked up in the registry) or itself (replaces `config.hostScheduler`); absent: the config's. */
  readonly hostScheduler?: string | HostSchedulerPolicy;
}
/** The DI token of a run's hypervisor set-up (topology, costs, configuration). */
export const HypervisorSetup: unique symbol = Symbol('HypervisorSetup');

/**
 * Binds the model's event sink, the IPI backend registry (backends contribute to it), the host
 * scheduler registry with the built-in policies (eevdf, cfs, fifo), the vCPU placement registry
 * (pinned, shared), and the hypervisor.
 */
export const hypervisorModule = new ContainerModule((options) => {
  options.bind(EventSink).toDynamicValue(() => new EventSink()).inSingletonScope();
  bindPolicyRegistry(options, ipiBackends);
  bindPolicyRegistry(options, hostSchedulers);
  for (const p of [EEVDF_POLICY, CFS_POLICY, FIFO_POLICY]) contributePolicy(options, hostSchedulers, p.name, p);
  bindPolicyRegistry(options, placementPolicies);
  for (const p of [PINNED_PLACEMENT, SHARED_PLACEMENT]) contributePolicy(options, placementPolicies, p.name, p);
  options
    .bind(Hypervisor)
    .toDynamicValue((ctx) => {
      const setup = ctx.get<HypervisorSetup>(HypervisorSetup);
      const config =
        setup.hostScheduler === undefined
          ? setup.config
          : { ...setup.config, hostScheduler: typeof setup.hostScheduler === 'string' ? ctx.get<PolicyRegistry<HostSchedulerPolicy>>(HostSchedulerRegistry).get(setup.hostScheduler) : setup.hostScheduler };
      return new Hypervisor(ctx.get(Simulation), ctx.get(EventSink), setup.topology, setup.costs, config, ctx.get(RandomStreams, { optional: true }) ?? undefined);
    })
    .inSingletonScope();
});
