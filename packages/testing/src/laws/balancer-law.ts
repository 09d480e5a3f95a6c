import fc from 'fast-check';
import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { compute, GuestKernel, NO_BALANCER, op, PUSH_BALANCER, Scheduler, type BalancedTask, type BalanceMove, type BalanceView, type GuestLoadBalancer, type Task } from '@ipilab/guest';
import { HostTopology } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type IpiBackendFactory } from '@ipilab/hypervisor';
import { assertLaw, type LawRunOptions } from '../law-runner';

/** The built-in guest load balancers by name, for the laws. */
export const BUILTIN_BALANCERS: Readonly<Record<string, GuestLoadBalancer>> = { push: PUSH_BALANCER, none: NO_BALANCER };

/** A waiting task of a balancer case: pinned to its vCPU, or allowed on the listed vCPUs. */
export interface ViewTask {
  readonly pinned: boolean;
  readonly allowed: readonly number[];
}

/** A balancer case seen through the view: each vCPU's waiting tasks, whether one runs, the slice and threshold. */
export interface BalanceViewCase {
  readonly queues: readonly (readonly ViewTask[])[];
  readonly running: readonly boolean[];
  readonly sliceNs: number;
  readonly migrationThresholdNs: number;
}

/** A task of a run case: its work, its first vCPU, and its affinity (absent: any vCPU). */
export interface BalanceRunTask {
  readonly vcpu: number;
  readonly workNs: number;
  readonly affinity?: readonly number[];
}

/** A run case: one VM's vCPUs, tasks of fixed work, and the guest's slice. */
export interface BalanceRunCase {
  readonly vcpus: number;
  readonly tasks: readonly BalanceRunTask[];
  readonly sliceNs: number;
  readonly migrationThresholdNs: number;
}

/** Options of the balancer laws: the IPI backend the run law's VM uses (reschedule IPIs), and case counts. */
export interface BalancerLawOptions extends LawRunOptions {
  /** The VM's IPI backend in the run law (e.g. `(hv, vm) => new TrapAndEmulateBackend(hv, vm)` from @ipilab/ipi-trap). */
  readonly backend: IpiBackendFactory;
  /** Most vCPUs of a case (default 64). */
  readonly maxVcpus?: number;
}

/** Random run queues of 1-`maxVcpus` vCPUs: tasks pinned or with random affinities, some vCPUs idle. */
export function balanceViewArbitrary(maxVcpus = 64): fc.Arbitrary<BalanceViewCase> {
  return fc.integer({ min: 1, max: maxVcpus }).chain((n) => {
    const task = fc.record({ pinned: fc.boolean(), allowed: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: Math.min(n, 8) }) });
    return fc.record({
      queues: fc.array(fc.array(task, { maxLength: 6 }), { minLength: n, maxLength: n }),
      running: fc.array(fc.boolean(), { minLength: n, maxLength: n }),
      sliceNs: fc.constantFrom(750_000, 3_000_000),
      migrationThresholdNs: fc.constantFrom(0, 500_000, 5_000_000),
    });
  });
}

/** Builds the read-only view of a case (its tasks are allowed where listed, and on their own vCPU). */
function viewOf(c: BalanceViewCase): { view: BalanceView; tasks: BalancedTask[][] } {
  const tasks = c.queues.map((q, v) =>
    q.map((t): BalancedTask => {
      const allowed = new Set(t.pinned ? [v] : [v, ...t.allowed]);
      return { pinned: t.pinned, allowedOn: (w) => allowed.has(w) };
    }),
  );
  const view: BalanceView = {
    nrVcpus: c.queues.length,
    queueLength: (v) => tasks[v]!.length + (c.running[v] === true ? 1 : 0),
    nrQueued: (v) => tasks[v]!.length,
    queuedAt: (v, i) => {
      const t = tasks[v]![i];
      if (t === undefined) throw new Error(`queuedAt(${v}, ${i}): vCPU ${v} has ${tasks[v]!.length} waiting tasks`);
      return t;
    },
    sliceNs: c.sliceNs,
    migrationThresholdNs: c.migrationThresholdNs,
  };
  return { view, tasks };
}

/**
 * The balancer's contract on one set of run queues, asked once per vCPU: it returns null or one
 * move of a waiting, unpinned task of `from` to another vCPU that task is allowed on; nothing
 * when `from` has no waiting task; and the same answer when asked again.
 */
export function checkBalanceMoves(balancer: GuestLoadBalancer, c: BalanceViewCase): void {
  const { view, tasks } = viewOf(c);
  for (let from = 0; from < view.nrVcpus; from++) {
    const move: BalanceMove | null = balancer.balance(view, from);
    const again = balancer.balance(view, from);
    if (move === null) {
      if (again !== null) throw new Error(`vCPU ${from}: no move, then a move when asked again`);
      continue;
    }
    if (again === null || again.task !== move.task || again.to !== move.to) throw new Error(`vCPU ${from}: a different answer when asked again`);
    if (tasks[from]!.length === 0) throw new Error(`vCPU ${from}: a move, though no task waits there`);
    const i = tasks[from]!.indexOf(move.task);
    if (i < 0) throw new Error(`vCPU ${from}: moved a task that is not waiting on vCPU ${from}`);
    if (move.task.pinned) throw new Error(`vCPU ${from}: moved waiting task ${i}, which is pinned`);
    if (!Number.isSafeInteger(move.to) || move.to < 0 || move.to >= view.nrVcpus) throw new Error(`vCPU ${from}: move to ${String(move.to)}, not a vCPU of the VM's ${view.nrVcpus}`);
    if (move.to === from) throw new Error(`vCPU ${from}: move of waiting task ${i} to its own vCPU`);
    if (!move.task.allowedOn(move.to)) throw new Error(`vCPU ${from}: moved waiting task ${i} to vCPU ${move.to}, outside its affinity`);
  }
}

/** Random VMs of 1-`maxVcpus` vCPUs with 1-16 tasks of 0.1-3 ms of work each, some with affinities. */
export function balanceRunArbitrary(maxVcpus = 8): fc.Arbitrary<BalanceRunCase> {
  return fc.integer({ min: 1, max: maxVcpus }).chain((n) =>
    fc.record({
      vcpus: fc.constant(n),
      tasks: fc.array(
        fc.record(
          { vcpu: fc.integer({ min: 0, max: n - 1 }), workNs: fc.integer({ min: 100_000, max: 3_000_000 }), affinity: fc.uniqueArray(fc.integer({ min: 0, max: n - 1 }), { minLength: 1, maxLength: n }) },
          { requiredKeys: ['vcpu', 'workNs'] },
        ),
        { minLength: 1, maxLength: 16 },
      ),
      sliceNs: fc.constantFrom(750_000, 3_000_000),
      migrationThresholdNs: fc.constantFrom(0, 500_000),
    }),
  );
}

/**
 * The balancer in the guest's scheduler: tasks of fixed work on one VM, run until they finish.
 * Every task finishes (none is lost or stranded by a move), having done exactly its work, and
 * ran only on vCPUs of its affinity; a pinned task never migrates.
 */
export function checkBalancedRun(balancer: GuestLoadBalancer, c: BalanceRunCase, backend: IpiBackendFactory): void {
  const sim = new Simulation();
  const topology = new HostTopology({ sockets: 1, coresPerSocket: c.vcpus, threadsPerCore: 1, ghz: 2.5 });
  const hv = new Hypervisor(sim, new EventSink(), topology, resolveCosts(KVM_SKYLAKE_2018), DEFAULT_HYPERVISOR_CONFIG);
  const vm = hv.addVm({ name: 'balance', vcpus: c.vcpus, placement: 'pinned', apicMode: 'x2apic-physical', backend: 'under-test' }, backend);
  const kernel = new GuestKernel(hv, vm);
  const sched = new Scheduler(hv, vm, kernel, { balancer, sliceNs: c.sliceNs, migrationThresholdNs: c.migrationThresholdNs });
  const ranOn = new Map<Task, Set<number>>();
  const done = new Map<Task, number>();
  const tasks = c.tasks.map((spec, i) => {
    const affinity = spec.affinity === undefined ? undefined : spec.affinity.includes(spec.vcpu) ? spec.affinity : [spec.vcpu, ...spec.affinity];
    const t = sched.spawn(
      `t${i}`,
      function* (self) {
        const quarter = spec.workNs / 4;
        for (let k = 0; k < 4; k++) {
          yield op((v, resume) => {
            ranOn.get(self)!.add(v.index);
            resume();
          });
          yield compute(quarter);
          done.set(self, (done.get(self) ?? 0) + quarter);
        }
      },
      { vcpu: spec.vcpu, ...(affinity === undefined ? {} : { affinity }) },
    );
    ranOn.set(t, new Set());
    return t;
  });
  hv.start();
  const totalWork = c.tasks.reduce((a, t) => a + t.workNs, 0);
  sim.run({ until: 20 * totalWork + 100_000_000 });
  tasks.forEach((t, i) => {
    const spec = c.tasks[i]!;
    if (t.state !== 'done') throw new Error(`task t${i} did not finish (state ${t.state}): lost or stranded`);
    if (Math.abs((done.get(t) ?? 0) - spec.workNs) > 1e-6) throw new Error(`task t${i} did ${done.get(t) ?? 0} ns of its ${spec.workNs} ns of work`);
    const allowed = spec.affinity === undefined ? undefined : new Set([spec.vcpu, ...spec.affinity]);
    for (const v of ranOn.get(t)!) if (allowed !== undefined && !allowed.has(v)) throw new Error(`task t${i} ran on vCPU ${v}, outside its affinity`);
    if (spec.affinity !== undefined && spec.affinity.length === 1 && spec.affinity[0] === spec.vcpu && t.migrations !== 0) throw new Error(`task t${i} is pinned, yet migrated ${t.migrations} times`);
  });
}

/**
 * The guest-load-balancer laws, for a balancer given by name (a built-in) or as the policy under
 * test: its moves keep the contract (checkBalanceMoves, default 200 cases) and, run by the
 * guest's scheduler, every task finishes its work where it may run (checkBalancedRun, default 30).
 */
export function assertBalancerLaws(balancer: GuestLoadBalancer | string, options: BalancerLawOptions): void {
  const b = typeof balancer === 'string' ? BUILTIN_BALANCERS[balancer] : balancer;
  if (b === undefined) throw new Error(`assertBalancerLaws: no built-in balancer ${JSON.stringify(balancer)} (${Object.keys(BUILTIN_BALANCERS).join(', ')})`);
  const { backend, maxVcpus, ...run } = options;
  assertLaw(`guest load balancer ${JSON.stringify(b.name)}: moves`, balanceViewArbitrary(maxVcpus ?? 64), (c) => checkBalanceMoves(b, c), { numRuns: 200, ...run });
  assertLaw(`guest load balancer ${JSON.stringify(b.name)}: every task finishes where it may run`, balanceRunArbitrary(Math.min(maxVcpus ?? 8, 8)), (c) => checkBalancedRun(b, c, backend), { numRuns: 30, ...run });
}
