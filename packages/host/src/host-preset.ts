import type { PolicyFamily } from '@ipilab/di';
import type { TopologySpec } from './topology';

/**
 * A named host (`host.preset`): data, not code. A plugin adds one as it adds any policy
 * (`contributePolicy(options, hostPresets, name, preset)`); with an options schema its
 * `configure` returns the preset for the options (say, a socket count). The scenario's explicit
 * `host` fields (sockets, coresPerSocket, threadsPerCore, ghz) override the preset's.
 */
export interface HostPreset extends TopologySpec {
  /** One line for `ipilab presets`: the machine, and whose measurements it is the host of. */
  readonly description: string;
}

/** Token of the host-preset PolicyRegistry. */
export const HostPresetRegistry: unique symbol = Symbol('HostPresetRegistry');
/** Token under which modules contribute host presets. */
export const HostPresetContribution: unique symbol = Symbol('HostPresetContribution');
/** The host-preset family (`host.preset`; default `skylake-2s-80t`). */
export const hostPresets: PolicyFamily<HostPreset> = {
  registry: HostPresetRegistry,
  contribution: HostPresetContribution,
  kind: 'host preset',
  defaultName: 'skylake-2s-80t',
};
