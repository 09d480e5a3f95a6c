import fc from 'fast-check';
import { PauseLoopExiting, type BackendVm, type IpiBackend, type IpiBackendFactory } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import { TrapAndEmulateBackend } from '@ipilab/ipi-trap';
import { LawFailure } from '../law-runner';
import { assertDeliveredExactlyOnce, checkDeliveredExactlyOnce, ipiScenarioArbitrary, runIpiScenario, sendersOf, type IpiLawOptions, type IpiScenario } from './ipi-delivery-law';

/** A broken backend: forgets the last target of every multi-target send. */
const dropsLastTarget: IpiBackendFactory = (hv, vm) => {
  const real = new TrapAndEmulateBackend(hv, vm);
  const b: IpiBackend = { name: 'drops', send: (req, done) => real.send(req.targets.length > 1 ? { ...req, targets: req.targets.slice(0, -1) } : req, done) };
  return b;
};

/** A broken backend: once a send has been delivered, it delivers it again (a second interrupt of one IPI). */
const deliversTwice: IpiBackendFactory = (hv, vm) => {
  const real = new TrapAndEmulateBackend(hv, vm);
  return { name: 'twice', send: (req, done) => real.send(req, () => real.send(req, done)) };
};

/** Runs the law against a backend and returns why it failed (the property's underlying error). */
function lawFailure(backend: IpiBackendFactory, options: IpiLawOptions = {}): string {
  // A horizon long enough for mutual cross-calls between spinning vCPUs that share one pCPU to
  // finish under the fair policies, whose slices are milliseconds (no pause-loop exits yet).
  try {
    fc.assert(fc.property(ipiScenarioArbitrary(options), (s) => checkDeliveredExactlyOnce(runIpiScenario(s, backend, 1_000_000_000), sendersOf(s))));
  } catch (e) {
    expect((e as Error).message).toMatch(/Property failed .*seed/s);
    return String((e as Error & { cause?: unknown }).cause);
  }
  return 'the law held';
}

/** A broken backend that only ever reaches APIC IDs below 128 (one PV bitmap window, one cluster byte): fine on small VMs. */
const firstWindowOnly: IpiBackendFactory = (hv, vm) => {
  const real = new TrapAndEmulateBackend(hv, vm);
  return { name: 'first-window', send: (req, done) => real.send(req.targets.length > 1 ? { ...req, targets: req.targets.filter((t) => t.apicId < 128) } : req, done) };
};

describe('the exactly-once delivery law', () => {
  it('catches a backend that loses a target', () => {
    // Small VMs: each failing case runs to the horizon, and shrinking a big one runs many of them.
    expect(lawFailure(dropsLastTarget, { vcpus: { max: 12 } })).toMatch(/(delivered to|reached) vCPU \d+ 0 times|never finished|did not target/);
  });

  it('catches a backend that delivers an IPI twice, and shrinks it to a 2-vCPU VM with one source of IPIs', () => {
    let failure: unknown;
    try {
      assertDeliveredExactlyOnce(deliversTwice, { horizonNs: 1_000_000_000 });
    } catch (e) {
      failure = e;
    }
    expect(failure).toBeInstanceOf(LawFailure);
    const f = failure as LawFailure;
    expect(f.reason).toMatch(/delivered to vCPU \d+ 2 times/);
    expect(f.message).toContain(`seed: ${f.seed}, path: "${f.path}"`);
    expect(f.message).toContain(`replay: FC_SEED=${f.seed} FC_PATH=${f.path} node_modules/.bin/jest packages/testing/src/laws/ipi-delivery-law.spec.ts`);
    // Shrunk: the smallest VM and a single IPI source (one send, or two guest tasks waking each other).
    const c = JSON.parse(f.counterexample) as IpiScenario;
    expect(c.vcpus).toBe(2);
    expect(c.senders.reduce((n, x) => n + x.ops.length, 0) + (c.guestTasks?.count ?? 0)).toBeLessThanOrEqual(2);
    expect(f.message).toContain(`Counterexample: [${f.counterexample}]`);
    // Replaying the printed seed and path fails at once, on the same shrunk case.
    let again: unknown;
    try {
      assertDeliveredExactlyOnce(deliversTwice, { horizonNs: 1_000_000_000, seed: f.seed, path: f.path });
    } catch (e) {
      again = e;
    }
    expect((again as LawFailure).counterexample).toBe(f.counterexample);
  });

  it('catches a backend that delivers an IPI before it was sent (it raises the next id early)', () => {
    const early: IpiBackendFactory = (hv, vm) => {
      const real = new TrapAndEmulateBackend(hv, vm);
      return {
        name: 'early',
        send: (req, done) => {
          for (const t of req.targets) hv.deliver(req.sender, t, req.vector, req.id + 1);
          real.send(req, done);
        },
      };
    };
    expect(lawFailure(early)).toMatch(/delivered to vCPU \d+ at \d+ ns, before it was sent/);
  });

  it('catches a target handled twice for one send (a handler that runs a csd it already ran)', () => {
    // A run whose guest kernel re-runs a call: two ipi-handled of one id on one vCPU. The law
    // counts handlings per target, so it sees the second one, not just "at least once".
    const r = runIpiScenario(fc.sample(ipiScenarioArbitrary({ vcpus: { max: 12 } }).filter((s) => s.senders.some((x) => x.ops.length > 0)), { numRuns: 1, seed: 7 })[0]!, (hv, vm) => new TrapAndEmulateBackend(hv, vm));
    const first = r.events.find((e) => e.type === 'ipi-handled');
    expect(first).toBeDefined();
    expect(() => checkDeliveredExactlyOnce(r, r.finishedSenders)).not.toThrow();
    const twice = { ...r, events: [...r.events, { ...first!, t: first!.t + 1 }] };
    expect(() => checkDeliveredExactlyOnce(twice, r.finishedSenders)).toThrow(/reached vCPU \d+ 2 times, expected exactly once/);
  });

  it('catches a hypervisor whose pause loops run past the PLE window (one that never takes the exit)', () => {
    const activity = PauseLoopExiting.prototype.activity;
    PauseLoopExiting.prototype.activity = function (): void {};
    try {
      expect(lawFailure((hv, vm) => new TrapAndEmulateBackend(hv, vm))).toMatch(/spun \d+ ns in guest mode .* past its PLE window/);
    } finally {
      PauseLoopExiting.prototype.activity = activity;
    }
  });

  it('sees VMs of 128 vCPUs and more: catches a backend that never reaches APIC IDs from 128 up', () => {
    expect(lawFailure(firstWindowOnly)).toMatch(/(delivered to|reached) vCPU \d+ 0 times|never finished|did not target/);
  });

  it('catches a backend that interrupts the wrong vCPU', () => {
    const misdirects: IpiBackendFactory = (hv, vm) => {
      const real = new TrapAndEmulateBackend(hv, vm);
      return {
        name: 'misdirects',
        send: (req, done) => real.send({ ...req, targets: req.targets.map((t) => vm.vcpus[(t.index + 1) % vm.vcpus.length]!) }, done),
      };
    };
    expect(lawFailure(misdirects)).toMatch(/(delivered to|reached) vCPU \d+ 0 times|never finished|did not target/);
  });

  it('catches a backend that delivers into another VM (the neighbour\'s vCPU of the same index), shrunk to two VMs', () => {
    // Each host's VMs, in the order their backends were made: the law's VM first, its neighbour second.
    const vmsOf = new WeakMap<object, BackendVm[]>();
    const crossed: IpiBackendFactory = (hv, vm) => {
      const real = new TrapAndEmulateBackend(hv, vm);
      const all = vmsOf.get(hv) ?? [];
      vmsOf.set(hv, [...all, vm]);
      return {
        name: 'crossed',
        send: (req, done) => {
          const vms = vmsOf.get(hv)!;
          const other = vms.find((x) => x !== vm);
          const wrong = other === undefined ? undefined : req.targets.map((t) => other.vcpus[t.index]);
          if (wrong === undefined || wrong.some((t) => t === undefined)) real.send(req, done);
          else real.send({ ...req, targets: wrong as Vcpu[] }, done);
        },
      };
    };
    let failure: LawFailure | undefined;
    try {
      assertDeliveredExactlyOnce(crossed, { vcpus: { max: 12 }, horizonNs: 1_000_000_000 });
    } catch (e) {
      failure = e as LawFailure;
    }
    expect(failure).toBeInstanceOf(LawFailure);
    expect(failure!.reason).toMatch(/of VM \d+ (delivered|handled) on vCPU \d+ of VM \d+, another VM/);
    expect((JSON.parse(failure!.counterexample) as IpiScenario).neighbour).toBeDefined();
  });
});
