import { InvalidParameterError } from '@ipilab/core';
import type { HostPreset } from './host-preset';

/** How far apart two logical CPUs are, which sets the cost of an IPI or a cache-line transfer. */
export type CpuDistance = 'self' | 'smt' | 'socket' | 'remote';

/** A host's shape: sockets, cores per socket, SMT threads per core, clock. */
export interface TopologySpec {
  readonly name?: string;
  readonly sockets: number;
  readonly coresPerSocket: number;
  readonly threadsPerCore: number;
  /** Core clock in GHz: converts published cycle counts to ns. */
  readonly ghz: number;
}

/** Where one pCPU sits: its socket, core and SMT thread, and its APIC ID. */
export interface PcpuInfo {
  /** Logical CPU number, numbered as Linux does on Intel/AMD servers: all first threads, then all second threads. */
  readonly id: number;
  readonly socket: number;
  /** Core index within its socket. */
  readonly core: number;
  /** SMT thread index within its core. */
  readonly thread: number;
  /** Physical APIC ID: thread in bit 0 (when SMT), core above it, socket above that, as firmware assigns. */
  readonly apicId: number;
}

function positiveInt(field: string, v: unknown, max: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max) {
    throw new InvalidParameterError(field, v, `an integer in [1, ${max}]`);
  }
  return v;
}

/**
 * The physical machine's shape: sockets x cores x SMT threads at one clock rate. Distances
 * between logical CPUs are SMT sibling, same socket, or another socket (NUMA).
 */
export class HostTopology {
  readonly name: string;
  readonly sockets: number;
  readonly coresPerSocket: number;
  readonly threadsPerCore: number;
  readonly ghz: number;
  readonly pcpus: readonly PcpuInfo[];
  /** Per pCPU: its core, numbered across the host (SMT siblings share it). */
  private readonly cores: Int32Array;
  /** Per core: its hardware threads, in id order. */
  private readonly threadsOfCore: number[][];

  constructor(spec: TopologySpec, field = 'host') {
    if (typeof spec !== 'object' || spec === null) throw new InvalidParameterError(field, spec, 'an object');
    this.sockets = positiveInt(`${field}.sockets`, spec.sockets, 64);
    this.coresPerSocket = positiveInt(`${field}.coresPerSocket`, spec.coresPerSocket, 1024);
    this.threadsPerCore = positiveInt(`${field}.threadsPerCore`, spec.threadsPerCore, 8);
    if (typeof spec.ghz !== 'number' || !(spec.ghz > 0 && spec.ghz <= 10)) {
      throw new InvalidParameterError(`${field}.ghz`, spec.ghz, 'a clock rate in GHz, in (0, 10]');
    }
    this.ghz = spec.ghz;
    this.name = spec.name ?? `${this.sockets}s-${this.coresPerSocket}c-${this.threadsPerCore}t`;
    const coreBits = Math.ceil(Math.log2(this.coresPerSocket));
    const threadBits = Math.ceil(Math.log2(this.threadsPerCore));
    const perThread = this.sockets * this.coresPerSocket;
    const pcpus: PcpuInfo[] = [];
    for (let thread = 0; thread < this.threadsPerCore; thread++) {
      for (let socket = 0; socket < this.sockets; socket++) {
        for (let core = 0; core < this.coresPerSocket; core++) {
          pcpus.push({
            id: thread * perThread + socket * this.coresPerSocket + core,
            socket,
            core,
            thread,
            apicId: (((socket << coreBits) | core) << threadBits) | thread,
          });
        }
      }
    }
    this.pcpus = pcpus;
    // Built in one pass: O(pCPUs), what every per-core table of the model derives from.
    this.cores = new Int32Array(pcpus.length);
    this.threadsOfCore = Array.from({ length: this.sockets * this.coresPerSocket }, () => []);
    // pcpus[i].id === i (ids follow the loop above), so each core's threads come in id order.
    for (const p of pcpus) {
      const c = p.socket * this.coresPerSocket + p.core;
      this.cores[p.id] = c;
      this.threadsOfCore[c]!.push(p.id);
    }
  }

  get size(): number {
    return this.pcpus.length;
  }

  /** The place of pCPU `id`. */
  pcpu(id: number): PcpuInfo {
    const p = this.pcpus[id];
    if (p === undefined) throw new InvalidParameterError('pcpu', id, `a logical CPU number in [0, ${this.pcpus.length - 1}]`);
    return p;
  }

  /** The core pCPU `id` is a thread of, numbered across the host: SMT siblings share it. */
  coreOf(id: number): number {
    return this.cores[this.pcpu(id).id]!;
  }

  /** The hardware threads of pCPU `id`'s core (`id` among them), in id order. */
  coreThreads(id: number): readonly number[] {
    return this.threadsOfCore[this.coreOf(id)]!;
  }

  /** How far apart two pCPUs are: the same, SMT siblings, one socket, or across sockets. */
  distance(a: number, b: number): CpuDistance {
    const pa = this.pcpu(a);
    const pb = this.pcpu(b);
    if (a === b) return 'self';
    if (pa.socket !== pb.socket) return 'remote';
    return pa.core === pb.core ? 'smt' : 'socket';
  }

  /** Logical CPUs of one socket, in id order. */
  socketCpus(socket: number): number[] {
    return this.pcpus.filter((p) => p.socket === socket).map((p) => p.id);
  }
}

/** Named machines. Each names the hardware a published measurement was taken on. */
export const HOST_PRESETS: Readonly<Record<string, HostPreset>> = {
  'skylake-2s-80t': {
    name: 'skylake-2s-80t',
    description: 'Xeon Skylake-SP, 2.5 GHz, 2 sockets x 20 cores x 2 threads = 80 threads (the host of the KVM PV send-IPI measurements, 2018)',
    sockets: 2,
    coresPerSocket: 20,
    threadsPerCore: 2,
    ghz: 2.5,
  },
  'epyc-7642-2s': {
    name: 'epyc-7642-2s',
    description: 'AMD EPYC 7642 (Rome), 2.3 GHz base, 2 sockets x 48 cores x 2 threads = 192 threads (the host of the 2021 no-kvm-pvipi measurements)',
    sockets: 2,
    coresPerSocket: 48,
    threadsPerCore: 2,
    ghz: 2.3,
  },
  'small-1s-8t': {
    name: 'small-1s-8t',
    description: 'A small machine for tests and examples: 1 socket x 4 cores x 2 threads, 3.0 GHz',
    sockets: 1,
    coresPerSocket: 4,
    threadsPerCore: 2,
    ghz: 3.0,
  },
};

/** The built-in host preset named `name` (`host.preset`); an error listing the known ones otherwise. */
export function hostPreset(name: string): HostTopology {
  const spec = Object.hasOwn(HOST_PRESETS, name) ? HOST_PRESETS[name] : undefined;
  if (spec === undefined) {
    throw new InvalidParameterError('host.preset', name, `one of ${Object.keys(HOST_PRESETS).map((n) => JSON.stringify(n)).join(', ')}`);
  }
  return new HostTopology(spec);
}
