import type { OperatorFunction } from 'rxjs';
import type { ExitReason, ModelEvent, ModelEventType, VcpuRef } from '@ipilab/events';
import { fromReducer, type EventReducer } from '../reducer';

/** Where time went, in ns: the categories partition it, so they add up to `total`. */
export interface LedgerCategories {
  /** In guest mode running its own work. */
  guest: number;
  /** In guest mode inside interrupt handlers. */
  handlingInterrupts: number;
  /** In guest mode as the initiator of a TLB shootdown, until it completed (global synchronisation). */
  shootdownWait: number;
  /** In the hypervisor handling exits, by reason (queueing for the service excluded). */
  exits: Partial<Record<ExitReason, number>>;
  /** Queued for the shared hypervisor service during exits. */
  serviceQueued: number;
  /** In the hypervisor outside a completed exit: the entry path after a wake-up, an unfinished exit. */
  hostOther: number;
  halted: number;
  preempted: number;
  offline: number;
  total: number;
}

/** One vCPU's ledger over its life from time 0 to the end of the run. */
export interface VcpuLedger extends LedgerCategories {
  readonly vm: number;
  readonly vcpu: number;
}

/** A vCPU's ledger while the run goes on. */
export interface Live {
  ledger: VcpuLedger;
  state: string;
  last: number;
  handlers: number;
  shootdowns: number;
  pendingExit: number;
  pendingQueued: number;
}

/** Every vCPU's ledger of one run, by `vcpuKey`. */
export type VcpuLedgers = Map<string, VcpuLedger>;

/** The key of a vCPU in `VcpuLedgers`: `<vm>.<vcpu>`. */
export const vcpuKey = (r: VcpuRef): string => `${r.vm}.${r.vcpu}`;

/** A numeric vCPU key for the per-event path (no string building per event). */
export const vcpuId = (r: VcpuRef): number => r.vm * 1_048_576 + r.vcpu;

function newLive(r: VcpuRef): Live {
  return {
    ledger: { vm: r.vm, vcpu: r.vcpu, guest: 0, handlingInterrupts: 0, shootdownWait: 0, exits: {}, serviceQueued: 0, hostOther: 0, halted: 0, preempted: 0, offline: 0, total: 0 },
    state: 'offline',
    last: 0,
    handlers: 0,
    shootdowns: 0,
    pendingExit: 0,
    pendingQueued: 0,
  };
}

/** Credits the time since the last event to the bucket the vCPU's state and activity select. */
function advance(l: Live, t: number): void {
  const dt = t - l.last;
  l.last = t;
  if (dt <= 0) return;
  const g = l.ledger;
  switch (l.state) {
    case 'in-guest':
      if (l.handlers > 0) g.handlingInterrupts += dt;
      else if (l.shootdowns > 0) g.shootdownWait += dt;
      else g.guest += dt;
      break;
    case 'exited':
      l.pendingExit += dt;
      break;
    case 'halted':
      g.halted += dt;
      break;
    case 'preempted':
      g.preempted += dt;
      break;
    default:
      g.offline += dt;
  }
}

function refOf(e: ModelEvent): VcpuRef | undefined {
  switch (e.type) {
    case 'vcpu-state':
    case 'vm-exit':
    case 'service-queued':
    case 'handler-begin':
    case 'handler-end':
    case 'shootdown-begin':
    case 'shootdown-end':
      return e.vcpu;
    default:
      return undefined;
  }
}

/**
 * The live ledgers of a run, found by (VM, vCPU) through dense arrays: a lookup per event is two
 * array reads, not a hash probe (on a 1,024-vCPU VM the Map's probes missed the cache on most of
 * the ~1 M events a simulated ms). `values()` gives them in the order they were first seen, as
 * the Map did, so sums over them add in the same order.
 */
export class LiveLedgers {
  private readonly byVm: (Live | undefined)[][] = [];
  private readonly seen: Live[] = [];

  /** The vCPU's live ledger, if it has one. */
  get(vm: number, vcpu: number): Live | undefined {
    const row = this.byVm[vm];
    return row === undefined ? undefined : row[vcpu];
  }

  /** Adds the vCPU's live ledger (it had none). */
  add(vm: number, vcpu: number, l: Live): void {
    let row = this.byVm[vm];
    if (row === undefined) {
      // A VM's row is filled in before use, so it stays a packed array of objects.
      row = [];
      while (this.byVm.length < vm) this.byVm.push([]);
      this.byVm[vm] = row;
    }
    while (row.length < vcpu) row.push(undefined);
    row[vcpu] = l;
    this.seen.push(l);
  }

  /** Every live ledger, in the order first seen. */
  values(): readonly Live[] {
    return this.seen;
  }
}

/** One step of the ledger reducer (mutates the accumulator it is given, touches nothing else). */
export function ledgerStep(acc: LiveLedgers, e: ModelEvent): LiveLedgers {
  if (e.type === 'run-end') {
    for (const l of acc.values()) {
      advance(l, e.t);
      l.ledger.hostOther += l.pendingExit;
      l.pendingExit = 0;
      l.ledger.total = e.t;
    }
    return acc;
  }
  const r = refOf(e);
  if (r === undefined) return acc;
  let l = acc.get(r.vm, r.vcpu);
  if (l === undefined) {
    l = newLive(r);
    if (e.type === 'vcpu-state') l.state = e.from;
    acc.add(r.vm, r.vcpu, l);
  }
  advance(l, e.t);
  switch (e.type) {
    case 'vcpu-state':
      if (e.from === 'exited' && e.to !== 'exited') {
        l.ledger.hostOther += l.pendingExit;
        l.pendingExit = 0;
      }
      l.state = e.to;
      break;
    case 'vm-exit': {
      const queued = Math.min(l.pendingQueued, l.pendingExit);
      l.ledger.exits[e.reason] = (l.ledger.exits[e.reason] ?? 0) + l.pendingExit - queued;
      l.ledger.serviceQueued += queued;
      l.pendingExit = 0;
      l.pendingQueued = 0;
      break;
    }
    case 'service-queued':
      l.pendingQueued += e.waited;
      break;
    case 'handler-begin':
      l.handlers++;
      break;
    case 'handler-end':
      l.handlers = Math.max(0, l.handlers - 1);
      break;
    case 'shootdown-begin':
      l.shootdowns++;
      break;
    case 'shootdown-end':
      l.shootdowns = Math.max(0, l.shootdowns - 1);
      break;
    default:
  }
  return acc;
}

/** The events a ledger reads. */
export const LEDGER_EVENTS: readonly ModelEventType[] = ['vcpu-state', 'vm-exit', 'service-queued', 'handler-begin', 'handler-end', 'shootdown-begin', 'shootdown-end', 'run-end'];

/** Per-vCPU ledgers as a reducer (see `vcpuLedgers`). */
export const vcpuLedgerReducer: EventReducer<LiveLedgers, VcpuLedgers> = {
  types: LEDGER_EVENTS,
  init: () => new LiveLedgers(),
  step: ledgerStep,
  result: (acc) => new Map([...acc.values()].map((l) => [vcpuKey(l.ledger), l.ledger] as const)),
};

/**
 * Per-vCPU ledgers over a run: emits once, when the stream completes (after `run-end`).
 */
export function vcpuLedgers(): OperatorFunction<ModelEvent, VcpuLedgers> {
  return fromReducer(vcpuLedgerReducer);
}

/** Time in exits, all reasons together. */
export function exitNs(l: LedgerCategories): number {
  let exits = 0;
  for (const v of Object.values(l.exits)) exits += v ?? 0;
  return exits;
}

/** Time the vCPU(s) held a pCPU doing something: every category but halted, preempted and offline. */
export function busyNs(l: LedgerCategories): number {
  return l.guest + l.handlingInterrupts + l.shootdownWait + exitNs(l) + l.serviceQueued + l.hostOther;
}

/** Sum of a ledger's categories: equals `total` (the conservation law). */
export function ledgerSum(g: LedgerCategories): number {
  return busyNs(g) + g.halted + g.preempted + g.offline;
}
