import { defer, map, reduce, type OperatorFunction } from 'rxjs';
import type { ModelEvent } from '@ipilab/events';
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

interface Acc {
  last: number;
  state: Map<number, { vm: number; state: string; pcpu: number }>;
  occupant: Map<number, number>;
  /** vCPUs currently preempted (the only ones that accrue waiting). */
  preempted: Set<number>;
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

/** Charges every preempted vCPU's wait since the last change to whoever occupies its pCPU. */
function accrue(acc: Acc, t: number): void {
  const dt = t - acc.last;
  acc.last = t;
  if (dt <= 0) return;
  for (const key of acc.preempted) {
    const s = acc.state.get(key)!;
    acc.waited.set(s.vm, (acc.waited.get(s.vm) ?? 0) + dt);
    const occ = acc.occupant.get(s.pcpu);
    if (occ === undefined) acc.switching.set(s.vm, (acc.switching.get(s.vm) ?? 0) + dt);
    else add(acc.behind, s.vm, acc.state.get(occ)!.vm, dt);
  }
}

const ON_CPU = new Set(['in-guest', 'exited']);

export function interferenceStep(acc: Acc, e: ModelEvent): Acc {
  if (e.type === 'vcpu-state') {
    accrue(acc, e.t);
    const key = vcpuId(e.vcpu);
    acc.vms.add(e.vcpu.vm);
    const prev = acc.state.get(key);
    if (prev !== undefined && acc.occupant.get(prev.pcpu) === key && !ON_CPU.has(e.to)) acc.occupant.delete(prev.pcpu);
    acc.state.set(key, { vm: e.vcpu.vm, state: e.to, pcpu: e.pcpu });
    if (e.to === 'preempted') acc.preempted.add(key);
    else acc.preempted.delete(key);
    if (ON_CPU.has(e.to)) acc.occupant.set(e.pcpu, key);
  } else if (e.type === 'service-queued') {
    acc.vms.add(e.vcpu.vm);
    acc.waited.set(e.vcpu.vm, (acc.waited.get(e.vcpu.vm) ?? 0) + e.waited);
    for (const [culprit, ns] of Object.entries(e.behind)) add(acc.behind, e.vcpu.vm, Number(culprit), ns);
  } else if (e.type === 'run-end') {
    accrue(acc, e.t);
  }
  return acc;
}

/** The interference matrix over a run, emitted once when the stream completes. */
export function interferenceMatrix(): OperatorFunction<ModelEvent, InterferenceMatrix> {
  return (source) =>
    defer(() =>
      source.pipe(
        reduce(interferenceStep, { last: 0, state: new Map(), occupant: new Map(), preempted: new Set(), behind: new Map(), switching: new Map(), waited: new Map(), vms: new Set() } as Acc),
        map((acc) => {
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
        }),
      ),
    );
}
