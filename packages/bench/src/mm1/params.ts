import { RandomStreams, type RandomStream } from '@ipilab/core';

/**
 * M/M/1 at load 0.9: mean service 1,000 ns, mean inter-arrival 1,000 / 0.9 ns. Every variant
 * draws from the same two named streams in the same order, so all of them must report the
 * same mean wait — the benchmark doubles as a cross-check of the kernel against the others.
 */
export interface Mm1Params {
  readonly customers: number;
  readonly seed: number;
  readonly load?: number;
  readonly meanServiceNs?: number;
}

export interface Mm1Result {
  readonly customers: number;
  readonly events: number;
  /** Mean time in queue before service, ns. Theory: load / (1 - load) * meanService. */
  readonly meanWaitNs: number;
  /** Simulated time at the last departure, ns. */
  readonly endTimeNs: number;
}

export interface Mm1Draws {
  readonly customers: number;
  readonly meanInterarrival: number;
  readonly meanService: number;
  readonly arrivals: RandomStream;
  readonly service: RandomStream;
}

export function mm1Draws(p: Mm1Params): Mm1Draws {
  const load = p.load ?? 0.9;
  const meanService = p.meanServiceNs ?? 1_000;
  const streams = new RandomStreams(p.seed);
  return {
    customers: p.customers,
    meanService,
    meanInterarrival: meanService / load,
    arrivals: streams.stream('mm1/arrivals'),
    service: streams.stream('mm1/service'),
  };
}

/** FIFO of arrival times on a growable ring buffer: no per-customer allocation. */
export class ArrivalQueue {
  private buf = new Float64Array(1024);
  private head = 0;
  length = 0;

  push(t: number): void {
    if (this.length === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      for (let i = 0; i < this.length; i++) next[i] = this.buf[(this.head + i) & (this.buf.length - 1)]!;
      this.buf = next;
      this.head = 0;
    }
    this.buf[(this.head + this.length) & (this.buf.length - 1)] = t;
    this.length++;
  }

  shift(): number {
    const t = this.buf[this.head]!;
    this.head = (this.head + 1) & (this.buf.length - 1);
    this.length--;
    return t;
  }
}
