import type { ContainerModuleLoadOptions, ServiceIdentifier } from 'inversify';
import type { PolicyOptions } from './policy-options';
import { PolicyRegistry } from './policy-registry';

/** One named policy offered by a module: the unit a plugin adds. */
export interface PolicyContribution<T> {
  readonly name: string;
  /** What a plain name picks. */
  readonly policy: T;
  /** The options it takes in the `{ name, options }` form, if any (policy-options.ts). */
  readonly options?: PolicyOptions<T, any>;
}

/** A family of swappable policies: its registry's and contributions' DI tokens, its name in messages, its default. */
export interface PolicyFamily<T> {
  /** Token of the family's PolicyRegistry<T>. */
  readonly registry: ServiceIdentifier<PolicyRegistry<T>>;
  /** Token under which modules multi-bind their PolicyContribution<T>. */
  readonly contribution: ServiceIdentifier<PolicyContribution<T>>;
  /** Family name for messages, e.g. "IPI backend". */
  readonly kind: string;
  readonly defaultName?: string;
}

/**
 * Binds a family's registry (once, by the package that owns the contract): a singleton built
 * from every contribution bound by any loaded module, built-in or plugin.
 */
export function bindPolicyRegistry<T>(options: Pick<ContainerModuleLoadOptions, 'bind'>, family: PolicyFamily<T>): void {
  options
    .bind(family.registry)
    .toDynamicValue((ctx) => {
      const registry = new PolicyRegistry<T>(family.kind);
      for (const c of ctx.getAll(family.contribution, { optional: true })) registry.register(c.name, c.policy, c.options);
      if (family.defaultName !== undefined) registry.setDefault(family.defaultName);
      return registry;
    })
    .inSingletonScope();
}

/** Offers one named policy to a family (from any module: the owner's, another package's, a plugin's). */
export function contributePolicy<T, O = unknown>(options: Pick<ContainerModuleLoadOptions, 'bind'>, family: PolicyFamily<T>, name: string, policy: T, policyOptions?: PolicyOptions<T, O>): void {
  options.bind(family.contribution).toConstantValue(policyOptions === undefined ? { name, policy } : { name, policy, options: policyOptions });
}
