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
 * Skylake preset), as a sweep point would run it — with nobody listening to model events, or
 * with the accounting streams (ledgers, interference matrix, latency histograms) subscribed.
 */
export function runIpiBroadcast(backend: string, apicMode: ApicMode, operations: number, accounting = false): IpiBroadcastRun {
  const sim = new Simulation();
  const sink = new EventSink();
  const hv = new Hypervisor(sim, sink, hostPreset('skylake-2s-80t'), resolveCosts(KVM_SKYLAKE_2018), DEFAULT_HYPERVISOR_CONFIG);
  // With accounting on, the run feeds the ledgers, the interference matrix and the latency histograms.
  // Loaded only when used, so the plain variants do not carry RxJS and the histograms.
  let acct: { finish(): void } | undefined;
  if (accounting) {
    const a = require('@ipilab/accounting') as typeof import('@ipilab/accounting');
    const service = new a.AccountingService(sink, sim);
    // As `ipilab run` does: the three reducers in one pass, fed straight from the sink.
    service.reduce(a.combineReducers({ ledgers: a.vmLedgerReducer, matrix: a.interferenceReducer, latency: a.latencyReducer })).subscribe();
    acct = service;
  }
  const vm = hv.addVm({ name: 'vm', vcpus: 80, placement: 'pinned', apicMode, backend }, BACKENDS[backend]!);
  let mean = NaN;
  new IpiBench(hv, new GuestKernel(hv, vm), vm.vcpus, { modes: ['broadcast'], iterations: operations }).start((r) => (mean = r.modes.broadcast!.totalNs.mean));
  hv.start();
  sim.run({ until: Number.MAX_SAFE_INTEGER - 1 });
  acct?.finish();
  return { events: sim.eventsProcessed, operations, meanTotalNs: mean };
}
