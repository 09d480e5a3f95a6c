import { Simulation } from '@ipilab/core';
import { KVM_SKYLAKE_2018, resolveCosts } from '@ipilab/calibration';
import { EventSink } from '@ipilab/events';
import { HostTopology, type TopologySpec } from '@ipilab/host';
import { DEFAULT_HYPERVISOR_CONFIG, Hypervisor, type IpiBackendFactory } from './index';

const noIpis: IpiBackendFactory = () => ({ name: 'none', send: () => undefined });
const BUSY = 1e12;

/**
 * A host with a CPU-bound "hog" on each pCPU of `hogs`, and one CPU-bound unpinned vCPU allowed on
 * `allowed` (its first pCPU is where it starts). Returns the ns the unpinned vCPU held each pCPU
 * by `until`, and when it first ran off its starting pCPU.
 */
function run(host: TopologySpec, hogs: number[], allowed: number[] | undefined, until: number, migrate = true): { ranOn: number[]; firstMoveAt: number } {
  const sim = new Simulation();
  const topology = new HostTopology(host);
  // No SMT contention, so only placement decides who runs where.
  const costs = resolveCosts(KVM_SKYLAKE_2018, { smtCoreThroughput: host.threadsPerCore });
  const hv = new Hypervisor(sim, new EventSink(), topology, costs, { ...DEFAULT_HYPERVISOR_CONFIG, migrate });
  // Each hog is a one-vCPU VM whose affinity is its one pCPU (pinned pCPUs are not shared, so an affinity of one).
  for (const p of hogs) hv.addVm({ name: `hog${p}`, vcpus: 1, placement: 'shared', pcpus: [p], apicMode: 'x2apic-physical', backend: 'none' }, noIpis).vcpu(0).pushWork(BUSY, () => undefined);
  const u = hv.addVm({ name: 'u', vcpus: 1, placement: 'shared', ...(allowed === undefined ? {} : { pcpus: allowed }), apicMode: 'x2apic-physical', backend: 'none' }, noIpis).vcpu(0);
  u.pushWork(BUSY, () => undefined);
  const start = allowed?.[0] ?? 0;
  let firstMoveAt = Infinity;
  hv.start();
  for (let t = 100_000; t <= until; t += 100_000) {
    sim.run({ until: t });
    if (firstMoveAt === Infinity && hv.runners.some((r) => r.current === u && r.pcpu !== start)) firstMoveAt = t;
  }
  return { ranOn: [...hv.occupancyByVm()[hogs.length]!], firstMoveAt };
}

const ONE_SOCKET = { sockets: 1, coresPerSocket: 2, threadsPerCore: 2, ghz: 2.5 }; // pCPUs 0,1 and siblings 2,3
const TWO_SOCKETS = { sockets: 2, coresPerSocket: 2, threadsPerCore: 1, ghz: 2.5 }; // 0,1 on socket 0; 2,3 on socket 1

describe('Balancer (migration of unpinned vCPU threads)', () => {
  it('a waking thread whose pCPU is busy goes to a wholly idle core before an idle sibling thread (select_idle_core)', () => {
    // Hog on pCPU 0; the thread starts at 0 and may use [0, 2, 1, 3]: 2 is idle but its core is not, 1's core is idle.
    const { ranOn } = run(ONE_SOCKET, [0], [0, 2, 1, 3], 2_000_000);
    expect(ranOn[1]).toBeGreaterThan(1_900_000);
    expect(ranOn[0]! + ranOn[2]! + ranOn[3]!).toBe(0);
  });

  it('wake-up placement stays in the LLC; the periodic balance of the NUMA level moves the thread to an idle socket', () => {
    // Hogs on socket 0 (pCPUs 0, 1); socket 1 idle. The thread starts at 0: its wake-up placement
    // looks only within socket 0, where both pCPUs are busy, so it queues there; the first periodic
    // balance (at a host tick, 1 ms at HZ 1000) of an idle pCPU of socket 1 pulls it across.
    const { ranOn, firstMoveAt } = run(TWO_SOCKETS, [0, 1], undefined, 20_000_000);
    expect(firstMoveAt).toBeGreaterThan(1_000_000);
    expect(firstMoveAt).toBeLessThanOrEqual(2_000_000);
    expect(ranOn[1]).toBe(0);
    expect(ranOn[2]! + ranOn[3]!).toBeGreaterThan(18_000_000); // then on socket 1, alone
    // With migration off it stays where it started, sharing pCPU 0 with the hog.
    const still = run(TWO_SOCKETS, [0, 1], undefined, 20_000_000, false);
    expect(still.firstMoveAt).toBe(Infinity);
    expect(still.ranOn[2]! + still.ranOn[3]!).toBe(0);
  });

  it('never moves a thread outside its set', () => {
    // Allowed on socket 0 only, both busy: it must not leave them even though socket 1 is idle.
    const { ranOn } = run(TWO_SOCKETS, [0, 1], [0, 1], 20_000_000);
    expect(ranOn[2]! + ranOn[3]!).toBe(0);
    expect(ranOn[0]! + ranOn[1]!).toBeGreaterThan(0);
  });
});
