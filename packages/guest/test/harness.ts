import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink, type ModelEvent } from '@ipilab/events';
import { hostPreset, HostTopology, type ApicMode } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, FIFO_POLICY, Hypervisor, type HypervisorConfig, type IpiBackendFactory, type VmSpec } from '@ipilab/hypervisor';
import { ParavirtualBackend } from '@ipilab/ipi-pv';
import { PostedBackend } from '@ipilab/ipi-posted';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import { GuestKernel } from '../src/index';

export const BACKENDS: Record<'trap' | 'pv' | 'posted', IpiBackendFactory> = {
  trap: (hv, vm) => new TrapAndEmulateBackend(hv, vm),
  pv: (hv, vm) => new ParavirtualBackend(hv, vm),
  posted: (hv, vm) => new PostedBackend(hv, vm),
};

/**
 * The fixed-home round robin (`fifo`, no migration): tests of a delivery or shootdown mechanism
 * that need a known sharing pattern (this vCPU preempted while that one runs) use it.
 */
export const ROUND_ROBIN: Partial<HypervisorConfig> = { hostScheduler: FIFO_POLICY, migrate: false };

export interface Rig {
  sim: Simulation;
  sink: EventSink;
  hv: Hypervisor;
  events: ModelEvent[];
}

/** A hypervisor on a host (preset name or small default), recording every model event. */
export function rig(options: { host?: string; config?: Partial<HypervisorConfig>; record?: boolean } = {}): Rig {
  const sim = new Simulation();
  const sink = new EventSink();
  const events: ModelEvent[] = [];
  if (options.record !== false) sink.subscribe((e) => events.push(e));
  const topology = options.host === undefined ? new HostTopology({ sockets: 2, coresPerSocket: 4, threadsPerCore: 2, ghz: 2.5 }) : hostPreset(options.host);
  const hv = new Hypervisor(sim, sink, topology, resolveCosts(KVM_SKYLAKE_2018), { ...DEFAULT_HYPERVISOR_CONFIG, ...options.config });
  return { sim, sink, hv, events };
}

export function vmSpec(vcpus: number, apicMode: ApicMode, extra: Partial<VmSpec> = {}): VmSpec {
  return { name: 'vm', vcpus, placement: 'pinned', apicMode, backend: 'test', ...extra };
}

export function addVm(r: Rig, backend: keyof typeof BACKENDS, spec: VmSpec): { vm: ReturnType<Hypervisor['addVm']>; kernel: GuestKernel } {
  const vm = r.hv.addVm(spec, BACKENDS[backend]);
  return { vm, kernel: new GuestKernel(r.hv, vm) };
}

/** VM exits by reason, of one vCPU or all; HLT exits (idling, not sending) are left out unless `withHlt`. */
export function exitsBy(events: readonly ModelEvent[], vcpu?: number, withHlt = false): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of events) {
    if (e.type === 'vm-exit' && (vcpu === undefined || e.vcpu.vcpu === vcpu) && (withHlt || e.reason !== 'hlt')) out[e.reason] = (out[e.reason] ?? 0) + 1;
  }
  return out;
}
