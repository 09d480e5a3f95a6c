import { ledgerSum, vcpuKey, vcpuLedgerReducer } from '@ipilab/accounting';
import type { IpiBackendFactory } from '@ipilab/hypervisor';
import { assertLaw, type LawRunOptions } from '../law-runner';
import { ipiScenarioArbitrary, runIpiScenario, type IpiLawOptions, type IpiRunOutcome } from './ipi-delivery-law';

/**
 * Conservation of time: each vCPU's ledger (guest, handlers, shootdown wait, exits by reason,
 * service queueing, other host time, halted, preempted, offline) adds up to the run's length,
 * and its halted, preempted and in-guest time agree with the vCPU's own state clock.
 */
export function checkTimeConserved(outcome: IpiRunOutcome): void {
  const end = outcome.hv.sim.now;
  const acc = vcpuLedgerReducer.init();
  for (const e of outcome.events) vcpuLedgerReducer.step(acc, e);
  vcpuLedgerReducer.step(acc, { type: 'run-end', t: end });
  const ledgers = vcpuLedgerReducer.result(acc);
  for (const vm of outcome.hv.vms) {
    for (const v of vm.vcpus) {
      const l = ledgers.get(vcpuKey(v.ref));
      if (l === undefined) throw new Error(`vCPU ${v.index} has no ledger`);
      const sum = ledgerSum(l);
      if (l.total !== end || sum !== end) throw new Error(`vCPU ${v.index}: its ledger's categories add up to ${sum} ns (total ${l.total} ns), the run lasted ${end} ns`);
      const clock = { ...v.timeIn };
      clock[v.state] += end - v.since;
      if (l.halted !== clock.halted) throw new Error(`vCPU ${v.index}: ledger says halted ${l.halted} ns, its state clock ${clock.halted} ns`);
      if (l.preempted !== clock.preempted) throw new Error(`vCPU ${v.index}: ledger says preempted ${l.preempted} ns, its state clock ${clock.preempted} ns`);
      const inGuest = l.guest + l.handlingInterrupts + l.shootdownWait;
      if (inGuest !== clock['in-guest']) throw new Error(`vCPU ${v.index}: ledger says ${inGuest} ns in guest mode, its state clock ${clock['in-guest']} ns`);
    }
  }
}

/** Conservation of time in the ledgers for any backend, on the delivery law's scenarios. Default 30 cases. */
export function assertTimeConserved(backend: IpiBackendFactory, options: IpiLawOptions & LawRunOptions = {}): void {
  assertLaw('conservation of time', ipiScenarioArbitrary(options), (s) => checkTimeConserved(runIpiScenario(s, backend)), { numRuns: 30, ...options });
}
