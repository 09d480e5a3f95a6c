import type { OperatorFunction } from 'rxjs';
import type { ExitReason, IpiKind, ModelEvent } from '@ipilab/events';
import { fromReducer, type EventReducer } from '../reducer';
import { LEDGER_EVENTS, LiveLedgers, ledgerStep, type LedgerCategories, type VcpuLedger } from './vcpu-ledgers';

/** A VM's ledger: its vCPUs' ledgers summed, plus counts of what it did. */
export interface VmLedger extends LedgerCategories {
  readonly vm: number;
  readonly vcpus: number;
  /** IPIs sent, by kind (a multicast counts once). */
  ipisSent: Partial<Record<IpiKind, number>>;
  /** Exits taken, by reason. */
  exitCounts: Partial<Record<ExitReason, number>>;
  hypercalls: number;
  shootdowns: number;
}

export interface VmLedgerState {
  vcpu: LiveLedgers;
  counts: Map<number, Pick<VmLedger, 'ipisSent' | 'exitCounts' | 'hypercalls' | 'shootdowns'>>;
}

function countsFor(acc: VmLedgerState, vm: number): Pick<VmLedger, 'ipisSent' | 'exitCounts' | 'hypercalls' | 'shootdowns'> {
  let c = acc.counts.get(vm);
  if (c === undefined) {
    c = { ipisSent: {}, exitCounts: {}, hypercalls: 0, shootdowns: 0 };
    acc.counts.set(vm, c);
  }
  return c;
}

function step(acc: VmLedgerState, e: ModelEvent): void {
  ledgerStep(acc.vcpu, e);
  switch (e.type) {
    case 'ipi-sent': {
      const c = countsFor(acc, e.from.vm);
      c.ipisSent[e.kind] = (c.ipisSent[e.kind] ?? 0) + 1;
      break;
    }
    case 'vm-exit': {
      const c = countsFor(acc, e.vcpu.vm);
      c.exitCounts[e.reason] = (c.exitCounts[e.reason] ?? 0) + 1;
      break;
    }
    case 'hypercall':
      countsFor(acc, e.vcpu.vm).hypercalls++;
      break;
    case 'shootdown-begin':
      countsFor(acc, e.vcpu.vm).shootdowns++;
      break;
    default:
  }
}

/** Sums vCPU ledgers into VM ledgers (the total is the sum of its vCPUs' lifetimes). */
export function sumLedgers(vm: number, ledgers: readonly VcpuLedger[], counts?: Pick<VmLedger, 'ipisSent' | 'exitCounts' | 'hypercalls' | 'shootdowns'>): VmLedger {
  const out: VmLedger = {
    vm,
    vcpus: ledgers.length,
    guest: 0,
    handlingInterrupts: 0,
    shootdownWait: 0,
    exits: {},
    serviceQueued: 0,
    hostOther: 0,
    halted: 0,
    preempted: 0,
    offline: 0,
    total: 0,
    ipisSent: { ...(counts?.ipisSent ?? {}) },
    exitCounts: { ...(counts?.exitCounts ?? {}) },
    hypercalls: counts?.hypercalls ?? 0,
    shootdowns: counts?.shootdowns ?? 0,
  };
  for (const g of ledgers) {
    out.guest += g.guest;
    out.handlingInterrupts += g.handlingInterrupts;
    out.shootdownWait += g.shootdownWait;
    out.serviceQueued += g.serviceQueued;
    out.hostOther += g.hostOther;
    out.halted += g.halted;
    out.preempted += g.preempted;
    out.offline += g.offline;
    out.total += g.total;
    for (const [r, v] of Object.entries(g.exits) as [ExitReason, number][]) out.exits[r] = (out.exits[r] ?? 0) + v;
  }
  return out;
}

/** Per-VM ledgers as a reducer (see `vmLedgers`). */
export const vmLedgerReducer: EventReducer<VmLedgerState, Map<number, VmLedger>> = {
  types: [...LEDGER_EVENTS, 'ipi-sent', 'hypercall'],
  init: () => ({ vcpu: new LiveLedgers(), counts: new Map() }),
  step,
  result(acc) {
    const byVm = new Map<number, VcpuLedger[]>();
    for (const l of acc.vcpu.values()) {
      const list = byVm.get(l.ledger.vm) ?? [];
      list.push(l.ledger);
      byVm.set(l.ledger.vm, list);
    }
    const vms = new Set([...byVm.keys(), ...acc.counts.keys()]);
    return new Map([...vms].sort((a, b) => a - b).map((vm) => [vm, sumLedgers(vm, byVm.get(vm) ?? [], acc.counts.get(vm))] as const));
  },
};

/** Per-VM ledgers over a run, emitted once when the stream completes. */
export function vmLedgers(): OperatorFunction<ModelEvent, Map<number, VmLedger>> {
  return fromReducer(vmLedgerReducer);
}
