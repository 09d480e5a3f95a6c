import fc from 'fast-check';
import { VECTORS, VirtualApic } from './index';

describe('VirtualApic: IRR, ISR and EOI', () => {
  it('starts empty', () => {
    const apic = new VirtualApic();
    expect(apic.hasPending()).toBe(false);
    expect(apic.highestRequested()).toBe(-1);
    expect(apic.eoi()).toBe(-1);
    expect([apic.on, apic.sn]).toEqual([false, false]);
  });

  it('two requests for one vector before it is accepted coalesce: one accept clears it', () => {
    const apic = new VirtualApic();
    apic.request(VECTORS.callFunction);
    apic.request(VECTORS.callFunction);
    expect(apic.highestRequested()).toBe(VECTORS.callFunction);
    apic.accept(VECTORS.callFunction);
    expect(apic.isRequested(VECTORS.callFunction)).toBe(false);
    expect(apic.highestRequested()).toBe(-1);
    expect(apic.hasPending()).toBe(false);
    expect(apic.inService(VECTORS.callFunction)).toBe(true);
    expect(apic.eoi()).toBe(VECTORS.callFunction);
    expect(apic.eoi()).toBe(-1);
  });

  it('highestRequested picks the highest vector, across IRR words and at the edges 0 and 255', () => {
    const apic = new VirtualApic();
    for (const v of [0x30, VECTORS.callFunctionSingle, 0x31, VECTORS.reschedule, 0x20]) apic.request(v);
    expect(apic.highestRequested()).toBe(VECTORS.reschedule);
    apic.accept(VECTORS.reschedule);
    expect(apic.highestRequested()).toBe(VECTORS.callFunctionSingle);
    apic.accept(VECTORS.callFunctionSingle);
    expect(apic.highestRequested()).toBe(0x31);

    const edges = new VirtualApic();
    edges.request(0);
    expect(edges.highestRequested()).toBe(0);
    edges.request(255);
    expect(edges.highestRequested()).toBe(255);
    expect(edges.isRequested(255)).toBe(true);
    edges.accept(255);
    expect(edges.isRequested(255)).toBe(false);
    expect(edges.inService(255)).toBe(true);
    expect(edges.highestRequested()).toBe(0);
  });

  it('accept moves a vector from the IRR to the ISR, leaving other requests', () => {
    const apic = new VirtualApic();
    apic.request(0x40);
    apic.request(0x41);
    apic.accept(0x41);
    expect(apic.inService(0x41)).toBe(true);
    expect(apic.inService(0x40)).toBe(false);
    expect(apic.isRequested(0x41)).toBe(false);
    expect(apic.isRequested(0x40)).toBe(true);
  });

  it('eoi clears the highest in-service vector and returns it (nested handlers unwind from the top)', () => {
    const apic = new VirtualApic();
    for (const v of [0x30, VECTORS.reschedule, 0x80]) {
      apic.request(v);
      apic.accept(v);
    }
    expect(apic.eoi()).toBe(VECTORS.reschedule);
    expect(apic.inService(VECTORS.reschedule)).toBe(false);
    expect(apic.inService(0x80)).toBe(true);
    expect(apic.eoi()).toBe(0x80);
    expect(apic.eoi()).toBe(0x30);
    expect(apic.eoi()).toBe(-1);
  });
});

describe('VirtualApic: posted interrupts', () => {
  it('post returns true only when ON was clear and SN is clear, and sets ON', () => {
    const apic = new VirtualApic();
    expect(apic.post(0x40)).toBe(true);
    expect(apic.on).toBe(true);
    expect(apic.post(0x41)).toBe(false); // ON already set: no second notification
    expect(apic.post(0x40)).toBe(false);
    apic.syncPir();
    expect(apic.on).toBe(false);
    expect(apic.post(0x42)).toBe(true); // ON cleared by the sync: notify again
  });

  it('with SN set, post records the vector but neither notifies nor sets ON', () => {
    const apic = new VirtualApic();
    apic.sn = true;
    expect(apic.post(0x50)).toBe(false);
    expect(apic.on).toBe(false);
    expect(apic.isRequested(0x50)).toBe(true);
    expect(apic.hasPending()).toBe(true);
    apic.sn = false;
    expect(apic.post(0x51)).toBe(true);
  });

  it('posted vectors are not in the IRR until syncPir, which moves them there and clears ON', () => {
    const apic = new VirtualApic();
    apic.post(0x60);
    apic.post(VECTORS.callFunction);
    expect(apic.highestRequested()).toBe(-1); // still in the PIR
    expect(apic.isRequested(0x60)).toBe(true);
    apic.syncPir();
    expect(apic.on).toBe(false);
    expect(apic.highestRequested()).toBe(VECTORS.callFunction);
    apic.accept(VECTORS.callFunction);
    expect(apic.highestRequested()).toBe(0x60);
    // The PIR was cleared: a second sync brings nothing back.
    apic.accept(0x60);
    apic.syncPir();
    expect(apic.hasPending()).toBe(false);
  });

  it('a vector both requested and posted coalesces into one IRR bit', () => {
    const apic = new VirtualApic();
    apic.request(0x70);
    apic.post(0x70);
    apic.syncPir();
    apic.accept(0x70);
    expect(apic.hasPending()).toBe(false);
  });

  it('hasPending sees the IRR and the PIR', () => {
    const apic = new VirtualApic();
    apic.request(0x22);
    expect(apic.hasPending()).toBe(true);
    apic.accept(0x22);
    expect(apic.hasPending()).toBe(false);
    apic.post(0x23);
    expect(apic.hasPending()).toBe(true);
    apic.syncPir();
    expect(apic.hasPending()).toBe(true);
    apic.accept(0x23);
    expect(apic.hasPending()).toBe(false);
  });
});

// ---- Model-based: the APIC against sets of vectors --------------------------------------------

type Op =
  | { readonly op: 'request'; readonly v: number }
  | { readonly op: 'post'; readonly v: number }
  | { readonly op: 'sn'; readonly on: boolean }
  | { readonly op: 'sync' }
  | { readonly op: 'acceptHighest' }
  | { readonly op: 'eoi' };

const vector = fc.integer({ min: 0, max: 255 });
const op: fc.Arbitrary<Op> = fc.oneof(
  vector.map((v) => ({ op: 'request' as const, v })),
  vector.map((v) => ({ op: 'post' as const, v })),
  fc.boolean().map((on) => ({ op: 'sn' as const, on })),
  fc.constant({ op: 'sync' as const }),
  fc.constant({ op: 'acceptHighest' as const }),
  fc.constant({ op: 'eoi' as const }),
);

const max = (s: Set<number>): number => (s.size === 0 ? -1 : Math.max(...s));

describe('VirtualApic (model-based)', () => {
  it('behaves like IRR/PIR/ISR sets with an ON flag under any sequence of operations', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const apic = new VirtualApic();
        const irr = new Set<number>();
        const pir = new Set<number>();
        const isr = new Set<number>();
        let on = false;
        let sn = false;
        for (const o of ops) {
          switch (o.op) {
            case 'request':
              apic.request(o.v);
              irr.add(o.v);
              break;
            case 'post': {
              const notify = !on && !sn;
              expect(apic.post(o.v)).toBe(notify);
              pir.add(o.v);
              if (notify) on = true;
              break;
            }
            case 'sn':
              apic.sn = o.on;
              sn = o.on;
              break;
            case 'sync':
              apic.syncPir();
              for (const v of pir) irr.add(v);
              pir.clear();
              on = false;
              break;
            case 'acceptHighest': {
              const v = max(irr);
              expect(apic.highestRequested()).toBe(v);
              if (v >= 0) {
                apic.accept(v);
                irr.delete(v);
                isr.add(v);
              }
              break;
            }
            case 'eoi': {
              const v = max(isr);
              expect(apic.eoi()).toBe(v);
              isr.delete(v);
              break;
            }
          }
          expect(apic.on).toBe(on);
          expect(apic.highestRequested()).toBe(max(irr));
          expect(apic.hasPending()).toBe(irr.size + pir.size > 0);
        }
        const all = Array.from({ length: 256 }, (_, v) => v);
        expect(all.filter((v) => apic.isRequested(v))).toEqual(all.filter((v) => irr.has(v) || pir.has(v)));
        expect(all.filter((v) => apic.inService(v))).toEqual(all.filter((v) => isr.has(v)));
      }),
    );
  });
});

describe('VECTORS', () => {
  it('are the Linux x86 IPI vectors', () => {
    // arch/x86/include/asm/irq_vectors.h (Linux 4.x and later).
    expect(VECTORS).toEqual({ localTimer: 0xec, reschedule: 0xfd, callFunction: 0xfc, callFunctionSingle: 0xfb });
  });
});
