import 'reflect-metadata';
import type { ContainerModule } from 'inversify';
import { accountingModule } from '@ipilab/accounting';
import { calibrationModule, calibrationProfiles } from '@ipilab/calibration';
import { composeContainer, type PolicyFamily, type PolicyRegistry } from '@ipilab/di';
import { guestBalancers, guestModule, guestSchedulers, shootdownStrategies, workloadKinds } from '@ipilab/guest';
import { hostModule, hostPresets } from '@ipilab/host';
import { hostSchedulers, hypervisorModule, ipiBackends, placementPolicies } from '@ipilab/hypervisor';
import { ipiNativeModule } from '@ipilab/ipi-native';
import { ipiPostedModule } from '@ipilab/ipi-posted';
import { ipiPvModule } from '@ipilab/ipi-pv';
import { ipiTrapModule } from '@ipilab/ipi-trap';
import { optionKeys } from './select-policy';

/** The built-in modules every run loads, in dependency order: each registers its package's families and built-ins. */
export const MODEL_MODULES: readonly ContainerModule[] = [hostModule, calibrationModule, hypervisorModule, ipiTrapModule, ipiPvModule, ipiPostedModule, ipiNativeModule, guestModule, accountingModule];

/** A family a scenario names policies of, with the key that names them and the key `ipilab presets --json` lists them under. */
export interface ScenarioFamily {
  readonly family: PolicyFamily<unknown>;
  /** The scenario key (`hypervisor.backend`; `vms[].` for per-VM keys). */
  readonly key: string;
  readonly listing: string;
}

/** Every policy family, in the order `ipilab presets` lists them. */
export const SCENARIO_FAMILIES: readonly ScenarioFamily[] = [
  { family: hostPresets, key: 'host.preset', listing: 'hosts' },
  { family: calibrationProfiles, key: 'calibration.profile', listing: 'calibrationProfiles' },
  { family: ipiBackends, key: 'hypervisor.backend', listing: 'backends' },
  { family: hostSchedulers, key: 'hypervisor.scheduler.policy', listing: 'hostSchedulers' },
  { family: placementPolicies, key: 'vms[].placement', listing: 'placements' },
  { family: guestSchedulers, key: 'vms[].scheduler.policy', listing: 'guestSchedulers' },
  { family: guestBalancers, key: 'vms[].scheduler.balancer', listing: 'guestBalancers' },
  { family: shootdownStrategies, key: 'vms[].shootdownStrategy', listing: 'shootdownStrategies' },
  { family: workloadKinds, key: 'vms[].workload.kind', listing: 'workloads' },
] as readonly unknown[] as readonly ScenarioFamily[];

/** One name a scenario may give: its family's key, a description when the policy has one, the options it takes. */
export interface PolicyListing {
  readonly key: string;
  readonly listing: string;
  readonly name: string;
  readonly description?: string;
  /** The option keys of the `{ name, options }` form (a workload's: its parameters); absent: none. */
  readonly options?: readonly string[];
}

/** Every registered name of every family, built-ins and the given plugin modules', for `ipilab presets`. */
export function policyListings(plugins: readonly ContainerModule[] = []): PolicyListing[] {
  const c = composeContainer({ run: { seed: 0 }, modules: MODEL_MODULES, plugins });
  return SCENARIO_FAMILIES.flatMap(({ family, key, listing }) => {
    const reg = c.get<PolicyRegistry<unknown>>(family.registry);
    return reg.names().map((name) => {
      const policy = reg.get(name) as { description?: unknown; params?: unknown };
      const description = typeof policy === 'object' && policy !== null && typeof policy.description === 'string' ? policy.description : undefined;
      const schema = reg.optionsOf(name)?.schema ?? (family === (workloadKinds as unknown) ? (policy.params as Parameters<typeof optionKeys>[0]) : undefined);
      const options = schema === undefined ? undefined : optionKeys(schema);
      return { key, listing, name, ...(description === undefined ? {} : { description }), ...(options === undefined ? {} : { options }) };
    });
  });
}
