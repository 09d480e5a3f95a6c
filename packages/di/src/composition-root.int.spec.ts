import { RandomStreams, Simulation } from '@ipilab/core';
import { composeContainer, DuplicatePolicyError, UnknownPolicyError, type PolicyRegistry } from './index';
import { ContainerModule } from 'inversify';
import {
  arrivalPolicies,
  ArrivalPolicyRegistry,
  burstPluginModule,
  RequestSource,
  SourceConfig,
  tinyModelModule,
  type ArrivalPolicy,
} from '../test/tiny-model';
import { contributePolicy } from './index';

function runSource(policy: string | undefined, seed = 1, plugins: ContainerModule[] = []): RequestSource {
  const config = new ContainerModule(({ bind }) => {
    bind(SourceConfig).toConstantValue(policy === undefined ? { horizon: 20_000 } : { policy, horizon: 20_000 });
  });
  const container = composeContainer({ run: { seed }, modules: [config, tinyModelModule], plugins });
  const source = container.get(RequestSource);
  source.start();
  container.get(Simulation).run();
  return source;
}

describe('composition root with a tiny model', () => {
  it('wires the kernel, the model and the default policy from modules', () => {
    const source = runSource(undefined);
    expect(source.count).toBe(20);
    expect(source.arrivals.slice(0, 3)).toEqual([0, 1_000, 2_000]);
  });

  it('swaps the policy by name, with no change to the model', () => {
    const poisson = runSource('poisson');
    expect(poisson.arrivals).not.toEqual(runSource('constant').arrivals);
    expect(poisson.arrivals).toEqual(runSource('poisson').arrivals);
    expect(poisson.arrivals).not.toEqual(runSource('poisson', 2).arrivals);
  });

  it('a plugin module adds a policy name the model can then be given', () => {
    const burst = runSource('burst', 1, [burstPluginModule]);
    const gaps = burst.arrivals.slice(1).map((t, i) => t - burst.arrivals[i]!);
    expect(new Set(gaps)).toEqual(new Set([10, 2_000]));
    expect(burst.count).toBeGreaterThan(20);
    expect(() => runSource('burst')).toThrow(UnknownPolicyError);
  });

  it('an unknown name fails while the run is assembled, listing the known names', () => {
    expect(() => runSource('bursty', 1, [burstPluginModule])).toThrow('unknown arrival policy "bursty"; known: "burst", "constant", "poisson"');
  });

  it('a plugin that reuses a built-in name is refused', () => {
    const clash = new ContainerModule((options) => contributePolicy(options, arrivalPolicies, 'poisson', { gap: () => 1 }));
    expect(() => runSource('poisson', 1, [clash])).toThrow(DuplicatePolicyError);
  });

  it('each container is a fresh run: its own Simulation and RandomStreams with the run seed', () => {
    const a = composeContainer({ run: { seed: 5 }, modules: [] });
    const b = composeContainer({ run: { seed: 5 }, modules: [] });
    expect(a.get(Simulation)).toBe(a.get(Simulation));
    expect(a.get(Simulation)).not.toBe(b.get(Simulation));
    expect(a.get(RandomStreams).seed).toBe(5);
  });

  it('the registry can be extended at run time and the registration undone', () => {
    const container = composeContainer({
      run: { seed: 1 },
      modules: [new ContainerModule(({ bind }) => void bind(SourceConfig).toConstantValue({ horizon: 1 })), tinyModelModule],
    });
    const registry = container.get<PolicyRegistry<ArrivalPolicy>>(ArrivalPolicyRegistry);
    const handle = registry.register('fixed-5us', { gap: () => 5_000 });
    expect(registry.get('fixed-5us').gap(container.get(RandomStreams).stream('t'))).toBe(5_000);
    handle.dispose();
    expect(registry.has('fixed-5us')).toBe(false);
    expect(registry.names()).toEqual(['constant', 'poisson']);
  });
});
