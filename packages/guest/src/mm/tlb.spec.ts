import fc from 'fast-check';
import { asidOfKey, Tlb, tlbKey } from './tlb';

describe('TLB keys', () => {
  const asid = fc.oneof(fc.integer({ min: 0, max: 600 }), fc.integer({ min: 0, max: 4095 }));
  const page = fc.oneof(fc.integer({ min: 0, max: 2 ** 21 + 10 }), fc.integer({ min: 0, max: 2 ** 36 - 1 }));

  it('are one-to-one, give back their address-space id, and are small integers in the common range', () => {
    fc.assert(
      fc.property(asid, page, asid, page, (a1, p1, a2, p2) => {
        expect(tlbKey(a1, p1) === tlbKey(a2, p2)).toBe(a1 === a2 && p1 === p2);
        expect(asidOfKey(tlbKey(a1, p1))).toBe(a1);
        if (a1 < 512 && p1 < 2 ** 21) expect(tlbKey(a1, p1)).toBeLessThan(2 ** 30);
      }),
    );
  });

  it('keep entries of other address spaces apart, on both sides of the small-key range', () => {
    const tlb = new Tlb(16);
    const e = { frame: 1, writable: true, huge: false, version: 0 };
    tlb.fill(1, 5, e);
    tlb.fill(0, 2 ** 21 + 5, { ...e, frame: 2 });
    tlb.fill(600, 5, { ...e, frame: 3 });
    expect([tlb.lookup(1, 5)?.frame, tlb.lookup(0, 2 ** 21 + 5)?.frame, tlb.lookup(600, 5)?.frame]).toEqual([1, 2, 3]);
    tlb.flushAsid(600);
    expect([tlb.holdsAsid(600), tlb.holdsAsid(0), tlb.holdsAsid(1)]).toEqual([false, true, true]);
    tlb.invalidatePage(0, 2 ** 21 + 5);
    expect(tlb.lookup(0, 2 ** 21 + 5)).toBeUndefined();
    expect(tlb.lookup(1, 5)?.frame).toBe(1);
  });
});

describe('TLB invalidation of a range', () => {
  // Law: invalidatePages is INVLPG of each page in turn, whatever the TLB holds (empty or not).
  it('leaves the same entries, in the same replacement order, as invalidatePage for each page', () => {
    const fill = fc.record({ asid: fc.integer({ min: 0, max: 3 }), vpn: fc.integer({ min: 0, max: 2_000 }), huge: fc.boolean() });
    fc.assert(
      fc.property(fc.array(fill, { maxLength: 40 }), fc.integer({ min: 0, max: 3 }), fc.array(fc.integer({ min: 0, max: 2_000 }), { maxLength: 20 }), (fills, asid, vpns) => {
        const build = (): Tlb => {
          const tlb = new Tlb(8);
          fills.forEach((f, i) => tlb.fill(f.asid, f.vpn, { frame: i, writable: true, huge: f.huge, version: i }));
          return tlb;
        };
        const a = build();
        const b = build();
        a.invalidatePages(asid, vpns);
        for (const vpn of vpns) b.invalidatePage(asid, vpn);
        // What each holds now, and what each evicts next: fill both to capacity and compare lookups.
        const probe = (t: Tlb): unknown[][] => {
          const seen: unknown[][] = [];
          for (let k = 0; k < 8; k++) {
            t.fill(9, 10_000 + k, { frame: -1, writable: false, huge: false, version: -1 });
            seen.push(fills.map((f) => t.lookup(f.asid, f.vpn)?.frame));
          }
          return seen;
        };
        expect(a.size).toBe(b.size);
        expect(fills.map((f) => a.lookup(f.asid, f.vpn)?.frame)).toEqual(fills.map((f) => b.lookup(f.asid, f.vpn)?.frame));
        expect(probe(a)).toEqual(probe(b));
      }),
    );
  });
});

describe('TLB entry count', () => {
  // Law: the count a TLB keeps (in the array its VM's TLBs share) equals what its tables hold, after any operations.
  it('equals the entries held after any fills, INVLPGs, ASID flushes and full flushes, each TLB in its own cell', () => {
    const op = fc.oneof(
      fc.record({ k: fc.constant('fill' as const), tlb: fc.integer({ min: 0, max: 1 }), asid: fc.integer({ min: 0, max: 2 }), vpn: fc.integer({ min: 0, max: 3_000 }), huge: fc.boolean() }),
      fc.record({ k: fc.constant('page' as const), tlb: fc.integer({ min: 0, max: 1 }), asid: fc.integer({ min: 0, max: 2 }), vpn: fc.integer({ min: 0, max: 3_000 }) }),
      fc.record({ k: fc.constant('pages' as const), tlb: fc.integer({ min: 0, max: 1 }), asid: fc.integer({ min: 0, max: 2 }), vpns: fc.array(fc.integer({ min: 0, max: 3_000 }), { maxLength: 6 }) }),
      fc.record({ k: fc.constant('asid' as const), tlb: fc.integer({ min: 0, max: 1 }), asid: fc.integer({ min: 0, max: 2 }) }),
      fc.record({ k: fc.constant('all' as const), tlb: fc.integer({ min: 0, max: 1 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const counts = new Int32Array(2);
        const tlbs = [new Tlb(6, counts, 0), new Tlb(6, counts, 1)];
        for (const o of ops) {
          const t = tlbs[o.tlb]!;
          if (o.k === 'fill') t.fill(o.asid, o.vpn, { frame: 1, writable: true, huge: o.huge, version: 0 });
          else if (o.k === 'page') t.invalidatePage(o.asid, o.vpn);
          else if (o.k === 'pages') t.invalidatePages(o.asid, o.vpns);
          else if (o.k === 'asid') t.flushAsid(o.asid);
          else t.flushAll();
        }
        tlbs.forEach((t, i) => {
          const maps = t as unknown as { entries: Map<number, unknown>; hugeEntries: Map<number, unknown> };
          expect(counts[i]).toBe(maps.entries.size + maps.hugeEntries.size);
          expect(t.size).toBe(counts[i]);
          expect(t.size).toBeLessThanOrEqual(t.capacity);
        });
      }),
    );
  });
});
