import fc from 'fast-check';
import { KernelError, Simulation } from '@ipilab/core';
import { EventSink, type ModelEvent } from '@ipilab/events';
import { Vcpu, type VcpuState } from './index';

interface Rig {
  sim: Simulation;
  sink: EventSink;
  vcpu: Vcpu;
  /** "label@time" for every completion recorded with `done(label)`. */
  log: string[];
  done: (label: string) => () => void;
  /** Advances the clock to `t`, running events strictly before it. */
  to: (t: number) => void;
}

function rig(startTime = 0): Rig {
  const sim = new Simulation({ startTime });
  const sink = new EventSink();
  const vcpu = new Vcpu(sim, sink, 0, 0, 0, 0);
  const log: string[] = [];
  return {
    sim,
    sink,
    vcpu,
    log,
    done: (label) => () => log.push(`${label}@${sim.now}`),
    to: (t) => void sim.run({ until: t }),
  };
}

const STATES: readonly VcpuState[] = ['in-guest', 'exited', 'halted', 'preempted', 'offline'];

describe('Vcpu: guest work runs only in guest mode', () => {
  it('starts offline; work pushed while offline does not progress until enterGuest', () => {
    const { sim, vcpu, log, done, to } = rig();
    expect(vcpu.state).toBe('offline');
    vcpu.pushWork(100, done('w'));
    expect(vcpu.workDepth).toBe(1);
    to(1_000);
    expect(log).toEqual([]);
    expect(sim.pending).toBe(0);
    vcpu.enterGuest(3);
    expect(vcpu.state).toBe('in-guest');
    expect(vcpu.pcpu).toBe(3);
    to(1_100);
    expect(log).toEqual([]); // due at exactly 1100
    to(1_101);
    expect(log).toEqual(['w@1100']);
    expect(vcpu.workDepth).toBe(0);
  });

  it('passes the argument to the completion callback', () => {
    const { vcpu, to } = rig();
    const got: unknown[] = [];
    vcpu.enterGuest(0);
    vcpu.pushWork(5, (a) => got.push(a), { id: 42 });
    to(10);
    expect(got).toEqual([{ id: 42 }]);
  });

  it('an exit of X ns stretches completion by X', () => {
    const { vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    vcpu.pushWork(1_000, done('w'));
    to(300);
    vcpu.leaveGuest('exited');
    expect(vcpu.state).toBe('exited');
    to(800);
    expect(log).toEqual([]);
    vcpu.enterGuest(0);
    to(10_000);
    expect(log).toEqual(['w@1500']);
  });

  it('work completes after its own length plus all time out of guest mode (property)', () => {
    const outOfGuest = fc.constantFrom<Exclude<VcpuState, 'in-guest'>>('exited', 'halted', 'preempted', 'offline');
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 10_000 }),
        fc.array(fc.record({ gap: fc.integer({ min: 0, max: 3_000 }), len: fc.integer({ min: 1, max: 1_000 }), to: outOfGuest }), { maxLength: 10 }),
        (work, exits) => {
          const { sim, vcpu, log, done, to } = rig();
          let guestAtDone = -1;
          vcpu.enterGuest(0);
          vcpu.pushWork(work, () => {
            guestAtDone = vcpu.timeIn['in-guest'] + (sim.now - vcpu.since);
            done('w')();
          });
          let progress = 0;
          let outside = 0;
          for (const e of exits) {
            if (progress + e.gap >= work) break;
            progress += e.gap;
            to(progress + outside);
            vcpu.leaveGuest(e.to);
            to(progress + outside + e.len);
            outside += e.len;
            expect(log).toEqual([]);
            vcpu.enterGuest(0);
          }
          to(work + outside + 1);
          expect(log).toEqual([`w@${work + outside}`]);
          expect(guestAtDone).toBe(work);
        },
      ),
    );
  });

  it('leaving guest mode for halt or preemption suppresses notifications; an exit does not; re-entry clears SN and polling', () => {
    const { vcpu } = rig();
    vcpu.enterGuest(0);
    vcpu.leaveGuest('exited');
    expect(vcpu.apic.sn).toBe(false);
    vcpu.enterGuest(0);
    vcpu.leaveGuest('halted');
    vcpu.polling = true;
    expect(vcpu.apic.sn).toBe(true);
    vcpu.enterGuest(1);
    expect([vcpu.apic.sn, vcpu.polling, vcpu.pcpu]).toEqual([false, false, 1]);
    vcpu.leaveGuest('preempted');
    expect(vcpu.apic.sn).toBe(true);
  });

  it('entryToken is bumped by every guest entry and exit, not by a bare state change', () => {
    const { vcpu } = rig();
    const t0 = vcpu.entryToken;
    vcpu.enterGuest(0);
    expect(vcpu.entryToken).toBe(t0 + 1);
    vcpu.leaveGuest('halted');
    expect(vcpu.entryToken).toBe(t0 + 2);
    vcpu.setState('preempted');
    vcpu.setState('halted');
    expect(vcpu.entryToken).toBe(t0 + 2);
    vcpu.enterGuest(1);
    expect(vcpu.entryToken).toBe(t0 + 3);
  });

  it('a negative or NaN work length is a KernelError naming the vCPU and the length', () => {
    const sim = new Simulation();
    const vcpu = new Vcpu(sim, new EventSink(), 2, 3, 0, 0);
    vcpu.enterGuest(0);
    expect(() => vcpu.pushWork(-1, () => undefined)).toThrow(KernelError);
    expect(() => vcpu.pushWork(-1, () => undefined)).toThrow('vCPU 2.3: work of -1 ns');
    expect(() => vcpu.pushWork(NaN, () => undefined)).toThrow('vCPU 2.3: work of NaN ns');
    expect(vcpu.workDepth).toBe(0);
    expect(sim.pending).toBe(0);
  });
});

describe('Vcpu: the work stack', () => {
  it('a handler pushed on top suspends the item below, which resumes afterwards', () => {
    const { sim, vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    vcpu.pushWork(1_000, done('base'));
    sim.scheduleAt(200, () => vcpu.pushWork(300, done('handler')));
    to(450);
    expect(vcpu.workDepth).toBe(2);
    to(10_000);
    expect(log).toEqual(['handler@500', 'base@1300']);
  });

  it('privilege level: kernel when idle or running kernel work, user under user work, kernel again while a handler runs above it', () => {
    const { sim, vcpu, to } = rig();
    vcpu.enterGuest(0);
    expect(vcpu.inKernel).toBe(true);
    vcpu.pushUserWork(1_000, () => undefined);
    expect(vcpu.inKernel).toBe(false);
    let inHandler: boolean | undefined;
    sim.scheduleAt(200, () => {
      vcpu.pushWork(300, () => undefined);
      inHandler = vcpu.inKernel;
    });
    to(450);
    expect(inHandler).toBe(true);
    to(600);
    expect(vcpu.inKernel).toBe(false);
    to(10_000);
    expect(vcpu.inKernel).toBe(true);
  });

  it('work pushed from a completion callback runs before the item below resumes', () => {
    const { sim, vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    vcpu.pushWork(1_000, done('base'));
    sim.scheduleAt(200, () =>
      vcpu.pushWork(300, () => {
        done('handler')();
        vcpu.pushWork(50, done('tail'));
      }),
    );
    to(10_000);
    expect(log).toEqual(['handler@500', 'tail@550', 'base@1350']);
  });

  it("a stack that grew keeps each level's work left, spin and privilege level", () => {
    const { vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    vcpu.pushUserWork(1_000, done('user'));
    const spin = vcpu.pushSpin(done('spin'));
    // Past the initial 8 levels, so the stack grows while the user work and the spin sit below.
    for (let i = 0; i < 12; i++) vcpu.pushWork(10, done(`w${i}`));
    expect(vcpu.workDepth).toBe(14);
    to(200);
    expect(log).toHaveLength(12);
    // The spin is on top again, unreleased: a PAUSE loop in kernel mode.
    expect([vcpu.workDepth, vcpu.pausing, vcpu.inKernel]).toEqual([2, true, true]);
    spin.release();
    to(300);
    expect(log.slice(12)).toEqual(['spin@200']);
    expect([vcpu.workDepth, vcpu.pausing, vcpu.inKernel]).toEqual([1, false, false]);
    to(5_000);
    // The user work runs only on top: all of it after the spin (everything was pushed at 0).
    expect(log.slice(13)).toEqual(['user@1200']);
  });

  it('deep nesting (beyond the initial stack) completes last-in first-out', () => {
    const { vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    for (let i = 0; i < 20; i++) vcpu.pushWork(10, done(`w${i}`));
    expect(vcpu.workDepth).toBe(20);
    to(1_000);
    expect(log).toEqual(Array.from({ length: 20 }, (_, k) => `w${19 - k}@${(k + 1) * 10}`));
    expect(vcpu.workDepth).toBe(0);
  });

  it('the bottom item ends after its length plus every handler pushed before it would have ended (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5_000 }),
        fc.array(fc.record({ at: fc.nat(), len: fc.integer({ min: 0, max: 500 }) }), { maxLength: 12 }),
        (work, raw) => {
          const { sim, vcpu, log, done, to } = rig();
          const handlers = raw.map((h) => ({ at: h.at % work, len: h.len }));
          let idle = 0;
          vcpu.pushWork(work, done('base'));
          vcpu.onIdle = () => idle++;
          vcpu.enterGuest(0);
          handlers.forEach((h, i) => sim.scheduleAt(h.at, () => vcpu.pushWork(h.len, done(`h${i}`))));
          const end = work + handlers.reduce((s, h) => s + h.len, 0);
          to(end + 1);
          expect(log).toHaveLength(handlers.length + 1);
          expect(log[log.length - 1]).toBe(`base@${end}`);
          expect(idle).toBe(1);
          expect(vcpu.workDepth).toBe(0);
        },
      ),
    );
  });

  it('a completion callback that leaves guest mode freezes the rest and does not call onIdle', () => {
    const { vcpu, log, done, to } = rig();
    let idle = 0;
    vcpu.enterGuest(0);
    vcpu.onIdle = () => idle++;
    vcpu.pushWork(100, done('base'));
    vcpu.pushWork(50, () => {
      done('top')();
      vcpu.leaveGuest('exited');
    });
    to(200);
    expect(log).toEqual(['top@50']);
    vcpu.enterGuest(0);
    to(1_000);
    expect(log).toEqual(['top@50', 'base@300']);
    expect(idle).toBe(1);
  });
});

describe('Vcpu: spins', () => {
  it('a spin never completes on its own and completes once its ticket is released', () => {
    const { sim, vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    const ticket = vcpu.pushSpin(done('spin'));
    to(1_000_000);
    expect(log).toEqual([]);
    expect(vcpu.workDepth).toBe(1);
    sim.scheduleAt(1_000_500, () => ticket.release());
    to(2_000_000);
    expect(log).toEqual(['spin@1000500']);
    expect(vcpu.workDepth).toBe(0);
  });

  it('a spin released while a handler is on top ends as soon as the handler does', () => {
    const { sim, vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    const ticket = vcpu.pushSpin(done('spin'));
    sim.scheduleAt(100, () => vcpu.pushWork(300, done('handler')));
    sim.scheduleAt(200, () => ticket.release());
    to(1_000);
    expect(log).toEqual(['handler@400', 'spin@400']);
  });

  it('the handler on top is not stretched or shortened by the release below it', () => {
    const { sim, vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    vcpu.pushWork(1_000, done('base'));
    const ticket = vcpu.pushSpin(done('spin'));
    sim.scheduleAt(100, () => vcpu.pushWork(300, done('handler')));
    sim.scheduleAt(250, () => ticket.release());
    to(10_000);
    // Time spent spinning (0..100) and in the handler (100..400) did not advance the base item.
    expect(log).toEqual(['handler@400', 'spin@400', 'base@1400']);
  });

  it('a spin released while out of guest mode ends when the vCPU re-enters', () => {
    const { sim, vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    const ticket = vcpu.pushSpin(done('spin'));
    to(100);
    vcpu.leaveGuest('preempted');
    sim.scheduleAt(200, () => ticket.release());
    to(300);
    expect(log).toEqual([]);
    vcpu.enterGuest(0);
    to(400);
    expect(log).toEqual(['spin@300']);
  });

  it('releasing twice completes the spin once', () => {
    const { vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    const ticket = vcpu.pushSpin(done('spin'));
    ticket.release();
    ticket.release();
    to(100);
    expect(log).toEqual(['spin@0']);
  });

  it('a bounded spin ends after its budget of guest time, frozen under a handler and out of guest mode', () => {
    const { sim, vcpu, log, done, to } = rig();
    vcpu.enterGuest(0);
    vcpu.pushSpin(done('spin'), undefined, 1_000);
    sim.scheduleAt(100, () => vcpu.pushWork(300, done('handler')));
    sim.scheduleAt(500, () => vcpu.leaveGuest('preempted'));
    sim.scheduleAt(700, () => vcpu.enterGuest(0));
    to(10_000);
    // 100 spun, handler 100..400, 100 more spun, out 500..700, the last 800 from 700.
    expect(log).toEqual(['handler@400', 'spin@1500']);
  });

  it('a bounded spin released early ends at once, and is a PAUSE loop (pausing) until then', () => {
    const { sim, vcpu, log, done, to } = rig();
    const flips: boolean[] = [];
    vcpu.onActivity = (v) => flips.push(v.pausing);
    vcpu.enterGuest(0);
    const ticket = vcpu.pushSpin(done('spin'), undefined, 1_000);
    expect(vcpu.pausing).toBe(true);
    sim.scheduleAt(300, () => ticket.release());
    to(10_000);
    expect(log).toEqual(['spin@300']);
    expect(flips).toEqual([true, false]);
    // A late release (the spin is gone) does nothing.
    ticket.release();
    expect(vcpu.workDepth).toBe(0);
  });
});

describe('Vcpu: onIdle', () => {
  it('is called when entering guest mode with no work, and when the stack empties in guest mode', () => {
    const { vcpu, done, to } = rig();
    const calls: [Vcpu, number][] = [];
    vcpu.onIdle = (v) => calls.push([v, v.workDepth]);
    vcpu.enterGuest(0);
    expect(calls).toEqual([[vcpu, 0]]);
    vcpu.pushWork(10, done('a'));
    vcpu.pushWork(10, done('b'));
    to(15);
    expect(calls).toHaveLength(1); // 'b' finished, 'a' still on the stack
    to(30);
    expect(calls).toEqual([
      [vcpu, 0],
      [vcpu, 0],
    ]);
  });

  it('is not called when re-entering with work on the stack', () => {
    const { vcpu, done, to } = rig();
    let idle = 0;
    vcpu.pushWork(10, done('a'));
    vcpu.onIdle = () => idle++;
    vcpu.enterGuest(0);
    expect(idle).toBe(0);
    to(20);
    expect(idle).toBe(1);
  });
});

describe('Vcpu: time accounting', () => {
  it('timeIn accumulates per state at each change', () => {
    const { vcpu, to } = rig();
    to(100);
    vcpu.enterGuest(0);
    to(350);
    vcpu.leaveGuest('exited');
    to(400);
    vcpu.enterGuest(0);
    to(1_000);
    vcpu.leaveGuest('halted');
    vcpu.setState('halted'); // no change: nothing accrues twice
    to(1_200);
    vcpu.setState('preempted');
    expect(vcpu.timeIn).toEqual({ 'in-guest': 850, exited: 50, halted: 200, preempted: 0, offline: 100 });
    expect(vcpu.since).toBe(1_200);
  });

  it('per-state time matches a model and sums to the elapsed time, whatever the sequence (property)', () => {
    const change = fc.record({
      dt: fc.integer({ min: 0, max: 1_000 }),
      to: fc.constantFrom(...STATES),
      how: fc.constantFrom('setState', 'guest-api'),
    });
    fc.assert(
      fc.property(fc.nat({ max: 1_000_000 }), fc.array(change, { maxLength: 30 }), fc.integer({ min: 0, max: 1_000 }), (start, changes, tail) => {
        const { sim, vcpu, to } = rig(start);
        vcpu.pushWork(1e9, () => undefined); // work on the stack must not change the accounting
        const model: Record<VcpuState, number> = { 'in-guest': 0, exited: 0, halted: 0, preempted: 0, offline: 0 };
        let state: VcpuState = 'offline';
        let t = start;
        for (const c of changes) {
          to(t + c.dt);
          model[state] += c.dt;
          t += c.dt;
          if (c.how === 'setState') vcpu.setState(c.to);
          else if (c.to === 'in-guest') vcpu.enterGuest(0);
          else vcpu.leaveGuest(c.to);
          state = c.to;
          expect(vcpu.state).toBe(state);
        }
        to(t + tail);
        model[state] += tail;
        const observed = Object.fromEntries(STATES.map((s) => [s, vcpu.timeIn[s] + (s === vcpu.state ? sim.now - vcpu.since : 0)]));
        expect(observed).toEqual(model);
        expect(STATES.reduce((sum, s) => sum + (observed[s] ?? 0), 0)).toBe(sim.now - start);
      }),
    );
  });
});

describe('Vcpu: vcpu-state events', () => {
  it('are emitted to a subscribed sink with the vCPU, the transition, the time and the pCPU', () => {
    const sim = new Simulation();
    const sink = new EventSink();
    const vcpu = new Vcpu(sim, sink, 2, 3, 7, 5);
    expect(vcpu.ref).toEqual({ vm: 2, vcpu: 3 });
    const seen: ModelEvent[] = [];
    const unsubscribe = sink.subscribe((e) => seen.push(e));
    vcpu.enterGuest(4);
    sim.run({ until: 30 });
    vcpu.leaveGuest('exited');
    vcpu.setState('exited'); // no transition, no event
    expect(seen).toEqual([
      { type: 'vcpu-state', t: 0, vcpu: { vm: 2, vcpu: 3 }, from: 'offline', to: 'in-guest', pcpu: 4 },
      { type: 'vcpu-state', t: 30, vcpu: { vm: 2, vcpu: 3 }, from: 'in-guest', to: 'exited', pcpu: 4 },
    ]);
    unsubscribe();
    vcpu.enterGuest(4);
    expect(seen).toHaveLength(2);
  });

  it('are not built or emitted while nobody listens', () => {
    const sim = new Simulation();
    const sink = new EventSink();
    const emit = jest.spyOn(sink, 'emit');
    const vcpu = new Vcpu(sim, sink, 0, 0, 0, 0);
    vcpu.enterGuest(0);
    vcpu.leaveGuest('halted');
    expect(emit).not.toHaveBeenCalled();
    const unsubscribe = sink.subscribe(() => undefined);
    vcpu.enterGuest(0);
    expect(emit).toHaveBeenCalledTimes(1);
    unsubscribe();
    vcpu.leaveGuest('preempted');
    expect(emit).toHaveBeenCalledTimes(1);
  });
});

describe('Vcpu: spin tickets are single-use', () => {
  it('a ticket released again, after its spin ended, does not end a later spin at the same level', () => {
    const sim = new Simulation();
    const v = new Vcpu(sim, new EventSink(), 0, 0, 0, 0);
    v.enterGuest(0);
    const ends: string[] = [];
    const t1 = v.pushSpin(() => ends.push(`first@${sim.now}`));
    t1.release();
    sim.run({ until: 10 });
    const t2 = v.pushSpin(() => ends.push(`second@${sim.now}`));
    t1.release(); // stale
    sim.run({ until: 20 });
    expect(ends).toEqual(['first@0']);
    t2.release();
    sim.run({ until: 30 });
    expect(ends).toEqual(['first@0', 'second@20']);
  });
});

describe('Vcpu: work speed (SMT contention)', () => {
  it('work done adds up at every speed: the integral of speed over guest time equals the work, whatever the speed changes (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 1_000_000 }),
        fc.array(fc.record({ at: fc.integer({ min: 1, max: 2_000_000 }), speed: fc.double({ min: 0.1, max: 1, noNaN: true }) }), { maxLength: 12 }),
        (work, changes) => {
          const { sim, vcpu } = rig();
          let doneAt = -1;
          vcpu.enterGuest(0);
          vcpu.pushWork(work, () => (doneAt = sim.now));
          const sorted = [...changes].sort((a, b) => a.at - b.at);
          for (const c of sorted) sim.scheduleAt(c.at, () => vcpu.setSpeed(c.speed));
          sim.run({ until: 50_000_000 });
          expect(doneAt).toBeGreaterThan(0);
          // Integrate speed over [0, doneAt): it must cover the work, and fall short of it one ns earlier (ceil rounding per change).
          let t = 0;
          let speed = 1;
          let done = 0;
          for (const c of sorted) {
            if (c.at >= doneAt) break;
            done += (c.at - t) * speed;
            t = c.at;
            speed = c.speed;
          }
          done += (doneAt - t) * speed;
          expect(done).toBeGreaterThanOrEqual(work - 1e-6);
          expect(done - work).toBeLessThanOrEqual(sorted.length + 1);
        },
      ),
    );
  });

  it('refuses a speed outside (0, 1]', () => {
    const { vcpu } = rig();
    expect(() => vcpu.setSpeed(0)).toThrow(KernelError);
    expect(() => vcpu.setSpeed(1.5)).toThrow(KernelError);
  });

  it('reports a PAUSE loop: a spin on top of the stack in guest mode, or a halt', () => {
    const { vcpu } = rig();
    vcpu.enterGuest(0);
    expect(vcpu.pausing).toBe(false);
    const spin = vcpu.pushSpin(() => undefined);
    expect(vcpu.pausing).toBe(true);
    vcpu.pushWork(100, () => undefined);
    expect(vcpu.pausing).toBe(false);
    spin.release();
    vcpu.leaveGuest('halted');
    expect(vcpu.pausing).toBe(true);
  });
});
