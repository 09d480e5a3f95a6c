import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { addVm, rig, vmSpec } from '../test/harness';
import type { CallWork } from './cross-calls';

// A full collection on demand, without starting jest under --expose-gc.
setFlagsFromString('--expose-gc');
const collect = runInNewContext('gc') as () => void;

describe('cross-calls keep nothing once done', () => {
  it("a finished call (its work, targets and closures) is not kept alive by the handlers' recycled csd lists, so memory does not grow with a run's length", async () => {
    const r = rig();
    const { vm, kernel } = addVm(r, 'trap', vmSpec(4, 'x2apic-physical'));
    let finished = 0;
    const refs: WeakRef<CallWork>[] = [];
    // Two calls in a row to all other vCPUs: every handler frame of the VM has held a batch.
    const send = (left: number): void => {
      const work: CallWork = { cost: () => 1_000, run: () => undefined };
      refs.push(new WeakRef(work));
      kernel.crossCall(vm.vcpu(0), vm.vcpus.slice(1), () => {
        finished++;
        if (left > 1) send(left - 1);
      }, undefined, work);
    };
    vm.vcpu(0).pushWork(1_000, () => send(2));
    r.hv.start();
    r.sim.run({ until: 1_000_000 });
    expect(finished).toBe(2);
    // WeakRefs hold their targets until the current job ends.
    await new Promise((done) => setImmediate(done));
    collect();
    expect(refs.map((w) => w.deref() === undefined)).toEqual([true, true]);
  });
});
