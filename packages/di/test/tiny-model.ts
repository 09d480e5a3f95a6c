import { ContainerModule, inject, injectable } from 'inversify';
import { RandomStreams, Simulation, type RandomStream } from '@ipilab/core';
import { bindPolicyRegistry, contributePolicy, type PolicyFamily, type PolicyRegistry } from '../src/index';

/**
 * A tiny model to show the wiring: a source of requests whose inter-arrival policy is chosen
 * by name from a registry, exactly as an IPI backend will be.
 */
export interface ArrivalPolicy {
  gap(rng: RandomStream): number;
}

export const ArrivalPolicyRegistry: unique symbol = Symbol('ArrivalPolicyRegistry');
export const ArrivalPolicyContribution: unique symbol = Symbol('ArrivalPolicyContribution');
export const arrivalPolicies: PolicyFamily<ArrivalPolicy> = {
  registry: ArrivalPolicyRegistry,
  contribution: ArrivalPolicyContribution,
  kind: 'arrival policy',
  defaultName: 'constant',
};

export interface SourceConfig {
  readonly policy?: string;
  readonly horizon: number;
}
export const SourceConfig: unique symbol = Symbol('SourceConfig');

@injectable()
export class RequestSource {
  count = 0;
  readonly arrivals: number[] = [];
  private readonly policy: ArrivalPolicy;
  private readonly rng: RandomStream;

  constructor(
    @inject(Simulation) private readonly sim: Simulation,
    @inject(RandomStreams) streams: RandomStreams,
    @inject(ArrivalPolicyRegistry) registry: PolicyRegistry<ArrivalPolicy>,
    @inject(SourceConfig) private readonly config: SourceConfig,
  ) {
    // The policy is looked up once, here, never per event.
    this.policy = registry.get(config.policy);
    this.rng = streams.stream('source');
  }

  start(): void {
    this.sim.schedule(0, this.arrive);
  }

  private readonly arrive = (): void => {
    this.count++;
    this.arrivals.push(this.sim.now);
    const next = this.sim.now + this.policy.gap(this.rng);
    if (next < this.config.horizon) this.sim.scheduleAt(next, this.arrive);
  };
}

export const tinyModelModule = new ContainerModule((options) => {
  bindPolicyRegistry(options, arrivalPolicies);
  contributePolicy(options, arrivalPolicies, 'constant', { gap: () => 1_000 });
  contributePolicy(options, arrivalPolicies, 'poisson', { gap: (rng) => Math.max(1, Math.round(rng.exponential(1_000))) });
  options.bind(RequestSource).toSelf().inSingletonScope();
});

/** What a third party ships: one more policy name, no change to the model. */
export const burstPluginModule = new ContainerModule((options) => {
  contributePolicy(options, arrivalPolicies, 'burst', { gap: (rng) => (rng.bernoulli(0.8) ? 10 : 2_000) });
});
