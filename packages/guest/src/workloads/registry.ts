import { InvalidParameterError } from '@ipilab/core';
import { z } from 'zod';
import { ComputeVictimWorkload, computeParams } from './compute-victim';
import { EbizzyWorkload, ebizzyParams } from './ebizzy';
import { ForkCowWorkload, forkCowParams } from './fork-cow';
import { HackbenchWorkload, hackbenchParams } from './hackbench';
import { HugeSplitWorkload, hugeSplitParams } from './huge-split';
import { IpiBench } from './ipi-bench';
import { IrqPipelineWorkload, irqPipelineParams } from './irq-pipeline';
import { WillItScaleWorkload, willItScaleParams } from './will-it-scale';
import { type Workload, type WorkloadContext, type WorkloadFigures } from './workload';
import { num, parseParams, vcpuIndex, type ParamsSchema } from './workload-params';

/**
 * The most iterations per mode: the benchmark keeps two 8-byte samples per iteration until the
 * mode ends, so 10^7 is 160 MB a mode; more would exhaust the heap before the run starts.
 */
export const MAX_IPI_BENCH_ITERATIONS = 10_000_000;

const ipiBenchMode = z.enum(['dry-run', 'self', 'unicast', 'broadcast']);

/** ipi-bench's parameters: every key optional, none other accepted. */
export const ipiBenchParams = z
  .object({
    mode: z
      .union([ipiBenchMode, z.array(ipiBenchMode).min(1, { error: 'expected one or more modes' })], { error: 'expected a mode (dry-run, self, unicast, broadcast) or a non-empty list of them' })
      .optional()
      .meta({ description: 'A mode or a list, run one after another: dry-run, self, unicast, broadcast (default [unicast, broadcast]).' }),
    iterations: num({ min: 1, max: MAX_IPI_BENCH_ITERATIONS, integer: true, why: 'two samples of each are kept: 160 MB a mode at most', description: 'Operations per mode (default 1,000).' }),
    sender: vcpuIndex('Sending vCPU (default 0).'),
    target: vcpuIndex('Unicast target (default: the first other vCPU).'),
  })
  .strict();

/** The IPI microbenchmark as a Workload: `mode` (one or a list) and `iterations`. */
class IpiBenchWorkload implements Workload {
  readonly kind = 'ipi-bench';
  readonly primary: { key: string; higherIsBetter: boolean };
  /** Per mode, its whole-call latency (`unicast`) and its send-to-handler latency (`unicast.sendToHandler`). */
  readonly figures: WorkloadFigures;
  private readonly bench: IpiBench;
  private modes: Record<string, unknown> = {};

  constructor(ctx: WorkloadContext, params: Record<string, unknown>) {
    const p = parseParams('ipi-bench', ipiBenchParams, params);
    const raw = p.mode ?? ['unicast', 'broadcast'];
    const modes = Array.isArray(raw) ? raw : [raw];
    const iterations = p.iterations ?? 1_000;
    const extra: { sender?: number; target?: number } = {};
    if (p.sender !== undefined) extra.sender = p.sender;
    if (p.target !== undefined) extra.target = p.target;
    this.bench = new IpiBench(ctx, ctx.kernel, ctx.vcpus, { modes, iterations, ...extra });
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

/** Makes a workload of one kind from the VM's guest (`ctx`) and its checked parameters. */
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

/** Each built-in workload's parameters, by `kind`: what the scenario checker checks them against. */
export const WORKLOAD_PARAMS: Readonly<Record<string, ParamsSchema>> = {
  'ipi-bench': ipiBenchParams,
  ebizzy: ebizzyParams,
  hackbench: hackbenchParams,
  'fork-cow': forkCowParams,
  'huge-split': hugeSplitParams,
  'irq-pipeline': irqPipelineParams,
  compute: computeParams,
  'will-it-scale': willItScaleParams,
};

/** A workload of kind `kind` (a built-in's), with its parameters checked. */
export function createWorkload(kind: string, ctx: WorkloadContext, params: Record<string, unknown> = {}): Workload {
  const f = Object.hasOwn(WORKLOADS, kind) ? WORKLOADS[kind] : undefined;
  if (f === undefined) throw new InvalidParameterError('workload.kind', kind, `one of ${Object.keys(WORKLOADS).map((k) => JSON.stringify(k)).join(', ')}`);
  return f(ctx, params);
}
