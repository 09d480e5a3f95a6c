import 'reflect-metadata';
import { Container, type ContainerModule } from 'inversify';
import { kernelModule, RunConfig } from './kernel-module';

/** What a run's container is made of: the run's configuration, the model modules, the plugins' modules. */
export interface CompositionOptions {
  readonly run: RunConfig;
  /** Model modules, in dependency order. */
  readonly modules: readonly ContainerModule[];
  /** Plugin modules, loaded after the models so they can contribute to their registries. */
  readonly plugins?: readonly ContainerModule[];
}

/**
 * The composition root: one container per run, holding the kernel, then the modules a
 * scenario names, then plugins. Models are resolved from it once, while the run is assembled;
 * nothing resolves from it inside the event loop.
 */
export function composeContainer(options: CompositionOptions): Container {
  const container = new Container({ defaultScope: 'Singleton' });
  container.bind<RunConfig>(RunConfig).toConstantValue(options.run);
  container.load(kernelModule, ...options.modules, ...(options.plugins ?? []));
  return container;
}
