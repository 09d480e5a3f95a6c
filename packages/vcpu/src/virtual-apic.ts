/**
 * A vCPU's virtual local APIC: the interrupt request register (IRR, one bit per vector, so
 * two requests for one vector before it is accepted coalesce, as on hardware), the in-service
 * register (ISR), EOI, and the posted-interrupt descriptor (PIR bitmap, ON = outstanding
 * notification, SN = suppress notification) that hardware posting writes while the vCPU runs.
 */
export class VirtualApic {
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly pir = new Uint32Array(8);
  /** Outstanding-notification bit of the posted-interrupt descriptor. */
  on = false;
  /** Suppress-notification bit: set while the vCPU is not running. */
  sn = false;

  /** Requests `vector` in the IRR (emulated delivery). */
  request(vector: number): void {
    this.irr[vector >>> 5]! |= 1 << (vector & 31);
  }

  /**
   * Posts `vector` into the PIR. Returns true when a notification must be sent: ON was clear
   * and notifications are not suppressed (the SDM's posting rule).
   */
  post(vector: number): boolean {
    this.pir[vector >>> 5]! |= 1 << (vector & 31);
    if (this.on || this.sn) return false;
    this.on = true;
    return true;
  }

  /** Moves posted vectors into the IRR (on notification, or at VM entry) and clears ON. */
  syncPir(): void {
    for (let i = 0; i < 8; i++) {
      this.irr[i]! |= this.pir[i]!;
      this.pir[i] = 0;
    }
    this.on = false;
  }

  /** True if a vector is posted in the PIR and not yet moved to the IRR. */
  hasPosted(): boolean {
    for (let i = 0; i < 8; i++) if (this.pir[i]! !== 0) return true;
    return false;
  }

  /** True if a vector is requested or posted. */
  hasPending(): boolean {
    for (let i = 0; i < 8; i++) if ((this.irr[i]! | this.pir[i]!) !== 0) return true;
    return false;
  }

  /** Whether the vector is pending in the IRR. */
  isRequested(vector: number): boolean {
    return ((this.irr[vector >>> 5]! | this.pir[vector >>> 5]!) & (1 << (vector & 31))) !== 0;
  }

  /** Highest requested vector in the IRR, or -1. */
  highestRequested(): number {
    for (let i = 7; i >= 0; i--) {
      const w = this.irr[i]!;
      if (w !== 0) return i * 32 + 31 - Math.clz32(w);
    }
    return -1;
  }

  /** The CPU accepts `vector`: IRR -> ISR. */
  accept(vector: number): void {
    this.irr[vector >>> 5]! &= ~(1 << (vector & 31));
    this.isr[vector >>> 5]! |= 1 << (vector & 31);
  }

  /** End of interrupt: clears the highest in-service vector; returns it, or -1. */
  eoi(): number {
    for (let i = 7; i >= 0; i--) {
      const w = this.isr[i]!;
      if (w !== 0) {
        const v = i * 32 + 31 - Math.clz32(w);
        this.isr[i] = w & ~(1 << (v & 31));
        return v;
      }
    }
    return -1;
  }

  /** True while any vector is in service (a handler has not yet signalled EOI). */
  anyInService(): boolean {
    for (let i = 0; i < 8; i++) if (this.isr[i] !== 0) return true;
    return false;
  }

  /** Whether the vector is being handled (set in the ISR). */
  inService(vector: number): boolean {
    return (this.isr[vector >>> 5]! & (1 << (vector & 31))) !== 0;
  }
}

/** Linux x86 IPI vectors (arch/x86/include/asm/irq_vectors.h). */
export const VECTORS = {
  localTimer: 0xec,
  reschedule: 0xfd,
  callFunction: 0xfc,
  callFunctionSingle: 0xfb,
} as const;
