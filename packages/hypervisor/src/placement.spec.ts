import { InvalidParameterError } from '@ipilab/core';
import { HostTopology } from '@ipilab/host';
import { VcpuPlacement } from './placement';
import type { VmSpec } from './vm';

const host = (): HostTopology => new HostTopology({ sockets: 2, coresPerSocket: 2, threadsPerCore: 2, ghz: 2.5 });
const spec = (vcpus: number, placement: 'pinned' | 'shared', pcpus?: number[]): VmSpec => ({ name: 'x', vcpus, placement, ...(pcpus === undefined ? {} : { pcpus }), apicMode: 'x2apic-physical', backend: 'none' });

function refused(fn: () => unknown, field: string): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidParameterError);
    expect((e as InvalidParameterError).field).toBe(field);
    return;
  }
  throw new Error(`expected ${field} to be refused`);
}

describe('VcpuPlacement', () => {
  it('pinned: one dedicated pCPU per vCPU, the listed ones or the next free ones, never shared with a later VM', () => {
    const p = new VcpuPlacement(host());
    expect(p.place('vms[0]', spec(2, 'pinned', [5, 3]))).toEqual([[5], [3]]);
    expect(p.place('vms[1]', spec(3, 'pinned'))).toEqual([[0], [1], [2]]);
    // Only 4, 6 and 7 are left.
    expect(p.place('vms[2]', spec(3, 'pinned'))).toEqual([[4], [6], [7]]);
    refused(() => p.place('vms[3]', spec(1, 'pinned')), 'vms[3].vcpus');
  });

  it('shared: every vCPU may run on the whole set (all pCPUs when none is listed) except pCPUs pinned to another VM', () => {
    const p = new VcpuPlacement(host());
    p.place('vms[0]', spec(2, 'pinned', [0, 1]));
    const all = p.place('vms[1]', spec(3, 'shared'));
    expect(all).toHaveLength(3);
    for (const a of all) expect([...a]).toEqual([2, 3, 4, 5, 6, 7]);
    // Overcommit is allowed: more vCPUs than pCPUs in the set.
    const listed = p.place('vms[2]', spec(4, 'shared', [6, 1, 7, 6]));
    for (const a of listed) expect([...a]).toEqual([6, 7]);
  });

  it('refuses what cannot be placed, naming the field', () => {
    const p = new VcpuPlacement(host());
    refused(() => p.place('vms[0]', spec(1, 'shared', [8])), 'vms[0].pcpus[0]');
    refused(() => p.place('vms[0]', spec(1, 'shared', [0, -1])), 'vms[0].pcpus[1]');
    refused(() => p.place('vms[0]', spec(3, 'pinned', [0, 1])), 'vms[0].vcpus');
    p.place('vms[0]', spec(2, 'pinned', [0, 1]));
    refused(() => p.place('vms[1]', spec(1, 'shared', [0, 1])), 'vms[1].pcpus');
    refused(() => p.place('vms[1]', { ...spec(1, 'shared'), placement: 'spread' as 'shared' }), 'vms[1].placement');
  });
});
