import type { OperatorFunction } from 'rxjs';
import type { ModelEvent } from '@ipilab/events';
import { fromReducer, type EventReducer } from '../reducer';
import { vcpuId } from './vcpu-ledgers';

/**
 * Who made whom wait, in ns: `behind[victim][culprit]` is the time the victim VM's vCPUs spent
 * waiting behind the culprit VM's work — queued for the hypervisor service while the culprit's
 * exits held it, or preempted on a pCPU the culprit's vCPU was running on. The diagonal is a
 * VM waiting behind itself; `switching[victim]` is time waiting while the pCPU changed hands.
 */
export interface InterferenceMatrix {
  readonly vms: number[];
  readonly behind: Record<number, Record<number, number>>;
  readonly switching: Record<number, number>;
  /** Per victim: all its waiting (service queueing + preemption): each row plus switching sums to it. */
  readonly waited: Record<number, number>;
}

/** A pCPU's occupancy as running integrals: ns each VM (or -1: nobody, switching) has held it. */
export interface PcpuClock {
  last: number;
  occupantVm: number;
  occupantKey: number;
  readonly cum: Map<number, number>;
}

/** A vCPU's last state; while preempted, `snapshot` holds its pCPU's integrals at the start of the wait. */
export interface VcpuTrack {
  vm: number;
  state: string;
  pcpu: number;
  since: number;
  /** Reused across preemptions: refilled when one begins, read when it ends. */
  snapshot: Map<number, number> | undefined;
}

export interface InterferenceState {
  state: Map<number, VcpuTrack>;
  pcpus: Map<number, PcpuClock>;
  behind: Map<number, Map<number, number>>;
  switching: Map<number, number>;
  waited: Map<number, number>;
  vms: Set<number>;
}

function add(m: Map<number, Map<number, number>>, victim: number, culprit: number, ns: number): void {
  let row = m.get(victim);
  if (row === undefined) m.set(victim, (row = new Map()));
  row.set(culprit, (row.get(culprit) ?? 0) + ns);
}

function clockOf(acc: InterferenceState, pcpu: number): PcpuClock {
  let c = acc.pcpus.get(pcpu);
  if (c === undefined) acc.pcpus.set(pcpu, (c = { last: 0, occupantVm: -1, occupantKey: -1, cum: new Map() }));
  return c;
}

/** Brings a pCPU's integrals up to `t`. */
function advancePcpu(c: PcpuClock, t: number): void {
  const dt = t - c.last;
  if (dt > 0) c.cum.set(c.occupantVm, (c.cum.get(c.occupantVm) ?? 0) + dt);
  c.last = t;
}

/**
 * A preempted interval ends: what each VM held the pCPU for since the interval began is what
 * the victim waited behind it (the integrals' difference); the rest of the time nobody did.
 * Costs O(VMs) per interval, however many vCPUs wait.
 */
function settle(acc: InterferenceState, s: VcpuTrack, t: number): void {
  const c = clockOf(acc, s.pcpu);
  advancePcpu(c, t);
  acc.waited.set(s.vm, (acc.waited.get(s.vm) ?? 0) + (t - s.since));
  for (const [vm, ns] of c.cum) {
    const d = ns - (s.snapshot?.get(vm) ?? 0);
    if (d <= 0) continue;
    if (vm === -1) acc.switching.set(s.vm, (acc.switching.get(s.vm) ?? 0) + d);
    else add(acc.behind, s.vm, vm, d);
  }
}

/** States in which a vCPU holds its pCPU. */
const onCpu = (s: string): boolean => s === 'in-guest' || s === 'exited';

/** Starts a preempted interval: the pCPU's integrals now, copied into the track's own map. */
function snapshotInto(s: VcpuTrack, c: PcpuClock): void {
  if (s.snapshot === undefined) s.snapshot = new Map(c.cum);
  else {
    s.snapshot.clear();
    for (const [vm, ns] of c.cum) s.snapshot.set(vm, ns);
  }
}

export function interferenceStep(acc: InterferenceState, e: ModelEvent): InterferenceState {
  if (e.type === 'vcpu-state') {
    const key = vcpuId(e.vcpu);
    acc.vms.add(e.vcpu.vm);
    let prev = acc.state.get(key);
    if (prev !== undefined) {
      if (prev.state === 'preempted') settle(acc, prev, e.t);
      if (onCpu(prev.state) && !onCpu(e.to)) {
        const c = clockOf(acc, prev.pcpu);
        if (c.occupantKey === key) {
          advancePcpu(c, e.t);
          c.occupantVm = -1;
          c.occupantKey = -1;
        }
      }
    }
    const c = clockOf(acc, e.pcpu);
    if (onCpu(e.to) && c.occupantKey !== key) {
      advancePcpu(c, e.t);
      c.occupantVm = e.vcpu.vm;
      c.occupantKey = key;
    }
    if (prev === undefined) acc.state.set(key, (prev = { vm: e.vcpu.vm, state: e.to, pcpu: e.pcpu, since: e.t, snapshot: undefined }));
    else {
      prev.state = e.to;
      prev.pcpu = e.pcpu;
      prev.since = e.t;
    }
    if (e.to === 'preempted') {
      advancePcpu(c, e.t);
      snapshotInto(prev, c);
    }
  } else if (e.type === 'service-queued') {
    acc.vms.add(e.vcpu.vm);
    acc.waited.set(e.vcpu.vm, (acc.waited.get(e.vcpu.vm) ?? 0) + e.waited);
    for (const [culprit, ns] of Object.entries(e.behind)) add(acc.behind, e.vcpu.vm, Number(culprit), ns);
  } else if (e.type === 'run-end') {
    for (const s of acc.state.values()) {
      if (s.state === 'preempted') {
        settle(acc, s, e.t);
        s.since = e.t;
        snapshotInto(s, clockOf(acc, s.pcpu));
      }
    }
  }
  return acc;
}

/** The interference matrix as a reducer (see `interferenceMatrix`). */
export const interferenceReducer: EventReducer<InterferenceState, InterferenceMatrix> = {
  types: ['vcpu-state', 'service-queued', 'run-end'],
  init: () => ({ state: new Map(), pcpus: new Map(), behind: new Map(), switching: new Map(), waited: new Map(), vms: new Set() }),
  step: interferenceStep,
  result(acc) {
    const vms = [...acc.vms].sort((a, b) => a - b);
    const behind: Record<number, Record<number, number>> = {};
    for (const v of vms) {
      behind[v] = {};
      for (const c of vms) behind[v][c] = acc.behind.get(v)?.get(c) ?? 0;
    }
    return {
      vms,
      behind,
      switching: Object.fromEntries(vms.map((v) => [v, acc.switching.get(v) ?? 0])),
      waited: Object.fromEntries(vms.map((v) => [v, acc.waited.get(v) ?? 0])),
    };
  },
};

/** The interference matrix over a run, emitted once when the stream completes. */
export function interferenceMatrix(): OperatorFunction<ModelEvent, InterferenceMatrix> {
  return fromReducer(interferenceReducer);
}
