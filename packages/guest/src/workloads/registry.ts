import { InvalidParameterError } from '@ipilab/core';
import { ComputeVictimWorkload } from './compute-victim';
import { EbizzyWorkload } from './ebizzy';
import { ForkCowWorkload } from './fork-cow';
import { HackbenchWorkload } from './hackbench';
import { HugeSplitWorkload } from './huge-split';
import { IpiBench, type IpiBenchMode } from './ipi-bench';
import { IrqPipelineWorkload } from './irq-pipeline';
import { WillItScaleWorkload } from './will-it-scale';
import { param, type Workload, type WorkloadContext, type WorkloadFigures } from './workload';

/** The IPI microbenchmark as a Workload: `mode` (one or a list) and `iterations`. */
class IpiBenchWorkload implements Workload {
  readonly kind = 'ipi-bench';
  readonly primary: { key: string; higherIsBetter: boolean };
  /** Per mode, its whole-call latency (`unicast`) and its send-to-handler latency (`unicast.sendToHandler`). */
  readonly figures: WorkloadFigures;
  private readonly bench: IpiBench;
  private modes: Record<string, unknown> = {};

  constructor(ctx: WorkloadContext, params: Record<string, unknown>) {
    const raw = params['mode'] ?? ['unicast', 'broadcast'];
    const modes = (Array.isArray(raw) ? raw : [raw]) as IpiBenchMode[];
    const iterations = param(params, 'iterations', 1_000, { min: 1, integer: true });
    const extra: { sender?: number; target?: number } = {};
    if (params['sender'] !== undefined) extra.sender = params['sender'] as number;
    if (params['target'] !== undefined) extra.target = params['target'] as number;
    this.bench = new IpiBench(ctx.hv, ctx.kernel, { modes, iterations, ...extra });
    this.primary = { key: `modes.${modes[modes.length - 1]}.totalNs.mean`, higherIsBetter: false };
    this.figures = { latencies: Object.fromEntries(modes.flatMap((m) => [[m, `modes.${m}.totalNs`], [`${m}.sendToHandler`, `modes.${m}.sendToHandlerNs`]])) };
  }

  start(): void {
    this.bench.start((r) => (this.modes = r.modes));
  }

  result(): Record<string, unknown> {
    return { modes: { ...this.modes } };
  }
}

export type WorkloadFactory = (ctx: WorkloadContext, params: Record<string, unknown>) => Workload;

/** Built-in workloads by `kind`. */
export const WORKLOADS: Readonly<Record<string, WorkloadFactory>> = {
  'ipi-bench': (c, p) => new IpiBenchWorkload(c, p),
  ebizzy: (c, p) => new EbizzyWorkload(c, p),
  hackbench: (c, p) => new HackbenchWorkload(c, p),
  'fork-cow': (c, p) => new ForkCowWorkload(c, p),
  'huge-split': (c, p) => new HugeSplitWorkload(c, p),
  'irq-pipeline': (c, p) => new IrqPipelineWorkload(c, p),
  compute: (c, p) => new ComputeVictimWorkload(c, p),
  'will-it-scale': (c, p) => new WillItScaleWorkload(c, p),
};

export function createWorkload(kind: string, ctx: WorkloadContext, params: Record<string, unknown> = {}): Workload {
  const f = Object.hasOwn(WORKLOADS, kind) ? WORKLOADS[kind] : undefined;
  if (f === undefined) throw new InvalidParameterError('workload.kind', kind, `one of ${Object.keys(WORKLOADS).map((k) => JSON.stringify(k)).join(', ')}`);
  return f(ctx, params);
}
