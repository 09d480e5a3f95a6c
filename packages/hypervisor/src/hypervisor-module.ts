import { ContainerModule } from 'inversify';
import { Simulation } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import { bindPolicyRegistry } from '@ipilab/di';
import { EventSink } from '@ipilab/events';
import type { HostTopology } from '@ipilab/host';
import { Hypervisor, type HypervisorConfig } from './hypervisor';
import { ipiBackends } from './ipi-backend';

/** What the composition root supplies to build the hypervisor: the host, resolved costs, config. */
export interface HypervisorSetup {
  readonly topology: HostTopology;
  readonly costs: Costs;
  readonly config: HypervisorConfig;
}
export const HypervisorSetup: unique symbol = Symbol('HypervisorSetup');

/** Binds the model's event sink, the IPI backend registry (backends contribute to it) and the hypervisor. */
export const hypervisorModule = new ContainerModule((options) => {
  options.bind(EventSink).toDynamicValue(() => new EventSink()).inSingletonScope();
  bindPolicyRegistry(options, ipiBackends);
  options
    .bind(Hypervisor)
    .toDynamicValue((ctx) => {
      const setup = ctx.get<HypervisorSetup>(HypervisorSetup);
      return new Hypervisor(ctx.get(Simulation), ctx.get(EventSink), setup.topology, setup.costs, setup.config);
    })
    .inSingletonScope();
});
