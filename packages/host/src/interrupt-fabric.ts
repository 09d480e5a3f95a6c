import { InvalidParameterError } from '@ipilab/core';
import type { CpuDistance, HostTopology } from './topology';

/** One-way latency of a physical IPI (ICR write on the sender to interrupt recognised on the receiver), ns, by distance. */
export interface WireLatencies {
  readonly self: number;
  readonly smt: number;
  readonly socket: number;
  readonly remote: number;
}

/**
 * The host's interrupt fabric and coherence fabric: how long a physical IPI takes to cross
 * from one logical CPU to another, and how long a cache line written on one takes to be read
 * on another. Both are looked up per use from precomputed matrices, so the hot path does no work.
 */
export class InterruptFabric {
  private readonly wire: Float64Array;
  private readonly line: Float64Array;
  private readonly n: number;

  constructor(
    readonly topology: HostTopology,
    readonly latencies: WireLatencies,
    readonly lineLatencies: WireLatencies = latencies,
  ) {
    for (const [name, table] of [['wire latency', latencies], ['cache-line latency', lineLatencies]] as const) {
      for (const k of ['self', 'smt', 'socket', 'remote'] as const) {
        const v = table[k];
        if (!(Number.isFinite(v) && v >= 0)) throw new InvalidParameterError(`${name} ${k}`, v, 'a non-negative, finite number of ns');
      }
    }
    this.n = topology.size;
    this.wire = new Float64Array(this.n * this.n);
    this.line = new Float64Array(this.n * this.n);
    for (let a = 0; a < this.n; a++) {
      for (let b = 0; b < this.n; b++) {
        const d = topology.distance(a, b);
        this.wire[a * this.n + b] = latencies[d];
        this.line[a * this.n + b] = lineLatencies[d];
      }
    }
  }

  /** Wire latency of a physical IPI from pCPU `from` to pCPU `to`, ns. */
  latency(from: number, to: number): number {
    return this.wire[from * this.n + to]!;
  }

  /** Time for `reader` to obtain a cache line last written on `writer`, ns. */
  cacheLine(reader: number, writer: number): number {
    return this.line[reader * this.n + writer]!;
  }

  /** How far an interrupt travels between two pCPUs (it decides the wire latency). */
  distance(from: number, to: number): CpuDistance {
    return this.topology.distance(from, to);
  }
}
