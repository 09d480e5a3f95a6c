import { InvalidParameterError, summarizeValues, type LatencySummary } from '@ipilab/core';
import type { Costs } from '@ipilab/calibration';
import type { Clock } from '@ipilab/hypervisor';
import type { Vcpu } from '@ipilab/vcpu';
import type { GuestKernel } from '../guest-kernel';

/** What one ipi-bench mode sends: nothing (the loop's own cost), a self-IPI, one unicast, one broadcast. */
export type IpiBenchMode = 'dry-run' | 'self' | 'unicast' | 'broadcast';
/** Every ipi-bench mode, in the order they run. */
export const IPI_BENCH_MODES: readonly IpiBenchMode[] = ['dry-run', 'self', 'unicast', 'broadcast'];

/** ipi-bench's parameters (`vms[].workload`). */
export interface IpiBenchParams {
  /** Modes, run one after another as the benchmark module does. */
  readonly modes: readonly IpiBenchMode[];
  /** Operations per mode. */
  readonly iterations: number;
  /** Sending vCPU (default 0). */
  readonly sender?: number;
  /** Unicast target (default: the first other vCPU, as the module's cpumask_any_but). */
  readonly target?: number;
}

export type { LatencySummary } from '@ipilab/core';

/** One mode's figures: per-iteration time and the latencies it measured. */
export interface IpiBenchModeResult {
  readonly ops: number;
  /** From just before the call until the (last) target's handler starts. 0 for dry-run. */
  readonly sendToHandlerNs: LatencySummary;
  /** Whole operation, loop overhead included: until every target has run its handler and the sender saw it. */
  readonly totalNs: LatencySummary;
}

/** ipi-bench's result: the figures of each mode it ran. */
export type IpiBenchResult = { readonly modes: Partial<Record<IpiBenchMode, IpiBenchModeResult>> };

/** Refuses ipi-bench parameters the VM cannot run (an error naming `field`). */
export function checkIpiBenchParams(p: IpiBenchParams, vcpus: readonly unknown[], field = 'workload'): void {
  if (!Array.isArray(p.modes) || p.modes.length === 0) throw new InvalidParameterError(`${field}.mode`, p.modes, `one or more of ${IPI_BENCH_MODES.join(', ')}`);
  p.modes.forEach((m, i) => {
    if (!IPI_BENCH_MODES.includes(m)) throw new InvalidParameterError(`${field}.mode[${i}]`, m, `one of ${IPI_BENCH_MODES.map((x) => JSON.stringify(x)).join(', ')}`);
  });
  if (!(Number.isSafeInteger(p.iterations) && p.iterations >= 1)) throw new InvalidParameterError(`${field}.iterations`, p.iterations, 'a positive integer');
  const n = vcpus.length;
  for (const k of ['sender', 'target'] as const) {
    const v = p[k];
    if (v !== undefined && !(Number.isSafeInteger(v) && v >= 0 && v < n)) throw new InvalidParameterError(`${field}.${k}`, v, `a vCPU index in [0, ${n - 1}]`);
  }
  const needsOther = p.modes.some((m) => m === 'unicast' || m === 'broadcast');
  if (needsOther && n < 2) throw new InvalidParameterError(`${field}.mode`, p.modes, 'unicast and broadcast need a VM with at least 2 vCPUs');
  if (p.target !== undefined && p.target === (p.sender ?? 0) && p.modes.includes('unicast')) {
    throw new InvalidParameterError(`${field}.target`, p.target, 'a vCPU other than the sender');
  }
}


/**
 * The IPI microbenchmark kernel patches quote (Y. Norov, LKML 2017-12-19): per mode, N
 * back-to-back operations from one vCPU, each recording send-to-handler and whole-call time.
 * - dry-run: the loop without a call;
 * - self: smp_call_function_single to the sender itself, which Linux runs locally (no IPI);
 * - unicast: smp_call_function_single(target, wait=1);
 * - broadcast: smp_call_function_many(all others, wait=1).
 */
export class IpiBench {
  private readonly sender: Vcpu;
  private readonly target: Vcpu;
  private readonly others: Vcpu[];
  private readonly result: Partial<Record<IpiBenchMode, IpiBenchModeResult>> = {};
  private modeIndex = 0;
  private i = 0;
  private s2h: Float64Array;
  private total: Float64Array;
  private iterStart = 0;
  private t0 = 0;
  private lastHandler = 0;
  private onDone: (r: IpiBenchResult) => void = () => undefined;
  finished = false;

  constructor(
    /** The clock and costs (a Hypervisor, or a workload's context). */
    private readonly hv: { readonly clock: Clock; readonly costs: Costs },
    private readonly kernel: Pick<GuestKernel, 'crossCall'>,
    vcpus: readonly Vcpu[],
    private readonly params: IpiBenchParams,
  ) {
    checkIpiBenchParams(params, vcpus);
    this.sender = vcpus[params.sender ?? 0]!;
    this.target = vcpus[params.target ?? (this.sender.index === 0 ? 1 : 0)]!;
    this.others = vcpus.filter((v) => v !== this.sender);
    this.s2h = new Float64Array(params.iterations);
    this.total = new Float64Array(params.iterations);
  }

  /** Queues the benchmark on the sender; call before the hypervisor starts, or on a running vCPU. */
  start(done: (r: IpiBenchResult) => void): void {
    this.onDone = done;
    this.iterate();
  }

  private get mode(): IpiBenchMode {
    return this.params.modes[this.modeIndex]!;
  }

  private iterate = (): void => {
    if (this.i === this.params.iterations) {
      this.result[this.mode] = { ops: this.i, sendToHandlerNs: summarizeValues(this.s2h), totalNs: summarizeValues(this.total) };
      this.modeIndex++;
      this.i = 0;
      if (this.modeIndex === this.params.modes.length) {
        this.finished = true;
        this.onDone({ modes: this.result });
        return;
      }
    }
    this.iterStart = this.hv.clock.now;
    this.sender.pushWork(this.hv.costs.benchLoopOverhead, this.call);
  };

  private call = (): void => {
    this.t0 = this.hv.clock.now;
    const c = this.hv.costs;
    switch (this.mode) {
      case 'dry-run':
        this.record(this.t0);
        return;
      case 'self':
        this.sender.pushWork(c.guestSendOverhead, () => {
          const handlerAt = this.hv.clock.now;
          this.sender.pushWork(c.handlerBody, () => this.record(handlerAt));
        });
        return;
      case 'unicast':
      case 'broadcast':
        this.lastHandler = this.t0;
        this.kernel.crossCall(this.sender, this.mode === 'unicast' ? [this.target] : this.others, this.afterCall, this.onHandlerStart);
        return;
    }
  };

  private onHandlerStart = (_t: Vcpu, at: number): void => {
    if (at > this.lastHandler) this.lastHandler = at;
  };

  private afterCall = (): void => this.record(this.lastHandler);

  private record(handlerAt: number): void {
    const now = this.hv.clock.now;
    this.s2h[this.i] = handlerAt - this.t0;
    this.total[this.i] = now - this.iterStart;
    this.i++;
    // The next iteration starts from the sender's own code path, not a fresh event.
    this.iterate();
  }
}
