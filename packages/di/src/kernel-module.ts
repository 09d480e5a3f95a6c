import { ContainerModule } from 'inversify';
import { RandomStreams, Simulation } from '@ipilab/core';

/** What one run is: its seed and clock origin. Bound by the composition root. */
export interface RunConfig {
  readonly seed: number;
  readonly startTime?: number;
}
/** The DI token of a run's configuration (its seed). */
export const RunConfig: unique symbol = Symbol('RunConfig');

/**
 * Binds the kernel: one Simulation and one RandomStreams per container (per run). @ipilab/core
 * has no DI of its own; its classes are the tokens here.
 */
export const kernelModule = new ContainerModule(({ bind }) => {
  bind(Simulation)
    .toDynamicValue((ctx) => {
      const config = ctx.get<RunConfig>(RunConfig);
      return new Simulation(config.startTime === undefined ? {} : { startTime: config.startTime });
    })
    .inSingletonScope();
  bind(RandomStreams)
    .toDynamicValue((ctx) => new RandomStreams(ctx.get<RunConfig>(RunConfig).seed))
    .inSingletonScope();
});
