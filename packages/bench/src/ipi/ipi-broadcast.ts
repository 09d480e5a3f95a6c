import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { GuestKernel, IpiBench } from '@ipilab/guest';
import { hostPreset, type ApicMode } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type IpiBackendFactory } from '@ipilab/hypervisor';
import { ParavirtualBackend } from '@ipilab/ipi-pv';
import { PostedBackend } from '@ipilab/ipi-posted';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';

export interface IpiBroadcastRun {
  readonly events: number;
  readonly operations: number;
  /** Simulated mean total per broadcast, ns (the model's answer, for the record). */
  readonly meanTotalNs: number;
}

const BACKENDS: Record<string, IpiBackendFactory> = {
  trap: (hv, vm) => new TrapAndEmulateBackend(hv, vm),
  pv: (hv, vm) => new ParavirtualBackend(hv, vm),
  posted: (hv, vm) => new PostedBackend(hv, vm),
};

/**
 * The full model's speed: the microbenchmark's broadcast mode on an 80-vCPU VM (80-thread
 * Skylake preset), nobody listening to events, as a sweep point would run it.
 */
export function runIpiBroadcast(backend: string, apicMode: ApicMode, operations: number): IpiBroadcastRun {
  const sim = new Simulation();
  const hv = new Hypervisor(sim, new EventSink(), hostPreset('skylake-2s-80t'), resolveCosts(KVM_SKYLAKE_2018), DEFAULT_HYPERVISOR_CONFIG);
  const vm = hv.addVm({ name: 'vm', vcpus: 80, placement: 'pinned', apicMode, backend }, BACKENDS[backend]!);
  let mean = NaN;
  new IpiBench(hv, new GuestKernel(hv, vm), { modes: ['broadcast'], iterations: operations }).start((r) => (mean = r.modes.broadcast!.totalNs.mean));
  hv.start();
  sim.run({ until: Number.MAX_SAFE_INTEGER - 1 });
  return { events: sim.eventsProcessed, operations, meanTotalNs: mean };
}
