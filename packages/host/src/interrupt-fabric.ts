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
 * on another. Both are looked up per use from each pCPU's socket and core, read from two small
 * typed arrays: O(1) per use, and O(pCPUs) to set up (a pCPU x pCPU table took 16 MiB and a
 * tenth of a 1,024-vCPU run's time to fill on a 1,024-pCPU host).
 */
export class InterruptFabric {
  /** Latency by distance class: 0 self, 1 SMT sibling, 2 same socket, 3 across sockets. */
  private readonly wire: Float64Array;
  private readonly line: Float64Array;
  /** Each pCPU's socket, and its core numbered across the host (siblings share it). */
  private readonly socketOf: Int32Array;
  private readonly coreOf: Int32Array;

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
    this.wire = Float64Array.of(latencies.self, latencies.smt, latencies.socket, latencies.remote);
    this.line = Float64Array.of(lineLatencies.self, lineLatencies.smt, lineLatencies.socket, lineLatencies.remote);
    const n = topology.size;
    this.socketOf = new Int32Array(n);
    this.coreOf = new Int32Array(n);
    for (const p of topology.pcpus) {
      this.socketOf[p.id] = p.socket;
      this.coreOf[p.id] = topology.coreOf(p.id);
    }
  }

  /** The distance class of two pCPUs (see `wire`), as `HostTopology.distance` decides it. */
  private classOf(a: number, b: number): number {
    if (a === b) return 0;
    if (this.socketOf[a] !== this.socketOf[b]) return 3;
    return this.coreOf[a] === this.coreOf[b] ? 1 : 2;
  }

  /** Wire latency of a physical IPI from pCPU `from` to pCPU `to`, ns. */
  latency(from: number, to: number): number {
    return this.wire[this.classOf(from, to)]!;
  }

  /** Time for `reader` to obtain a cache line last written on `writer`, ns. */
  cacheLine(reader: number, writer: number): number {
    return this.line[this.classOf(reader, writer)]!;
  }

  /** How far an interrupt travels between two pCPUs (it decides the wire latency). */
  distance(from: number, to: number): CpuDistance {
    return this.topology.distance(from, to);
  }
}
