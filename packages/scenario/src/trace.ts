import type { ModelEvent } from '@ipilab/events';
import type { LoadedScenario } from './load';
import { runScenario, type RunOptions } from './run-scenario';

/** One Chrome trace-event (the JSON format Perfetto and chrome://tracing load). */
export interface TraceEvent {
  name: string;
  ph: 'X' | 'M' | 's' | 'f' | 'i';
  ts: number;
  pid: number;
  tid: number;
  dur?: number;
  cat?: string;
  id?: number;
  bp?: 'e';
  s?: 'g' | 'p' | 't';
  args?: Record<string, unknown>;
}

/** How a traced run is written: time window, size limit, progress. */
export interface TraceOptions {
  /** Keep only what happens in [from, to) ns of simulated time. */
  readonly from?: number;
  readonly to?: number;
  /** The run's progress (RunOptions.onProgress). */
  readonly onProgress?: RunOptions['onProgress'];
}

/** What a streamed trace ran: the run's end and how many events were emitted. */
export interface TraceSummary {
  readonly simulatedNs: number;
  readonly events: number;
}

const HOST_PID = 1;
const us = (ns: number): number => ns / 1000;

/**
 * Runs a scenario and records a Chrome/Perfetto trace: a process "host" with a track per pCPU
 * (which vCPU runs there), a process per VM with a track per vCPU (its state, exits named by
 * reason) and a track per vCPU's guest activity (interrupt handlers, shootdowns as spans on the
 * initiator, a stale TLB use as an instant), and an arrow from each IPI's send to the handler that ran it. Timestamps are µs.
 * The whole trace in memory: for short runs and tests; `streamTrace` for any length.
 */
export function traceScenario(loaded: LoadedScenario, options: TraceOptions = {}): { traceEvents: TraceEvent[]; displayTimeUnit: 'ns' } {
  const traceEvents: TraceEvent[] = [];
  streamTrace(loaded, (e) => traceEvents.push(e), options);
  return { traceEvents, displayTimeUnit: 'ns' };
}

/**
 * The trace of `traceScenario`, handed to `emit` event by event as the run produces them, so a
 * trace of any length costs memory only for what is still open (a slice not yet ended, an
 * arrow whose handler has not run). Trace viewers sort by time, so the order is free: an
 * arrow's start is held back and emitted with its end, which drops an arrow that never ends
 * (its handler ran after the window or the run) without having written half of it.
 */
export function streamTrace(loaded: LoadedScenario, emit: (e: TraceEvent) => void, options: TraceOptions = {}): TraceSummary {
  const from = options.from ?? 0;
  const to = options.to ?? Infinity;
  let emitted = 0;
  const events = {
    push(e: TraceEvent): void {
      emitted++;
      emit(e);
    },
  };
  const vcpuState = new Map<string, { state: string; since: number; pcpu: number }>();
  const pcpuRun = new Map<number, { who: string; since: number; vm: number; vcpu: number }>();
  const handlerOpen = new Map<string, number[]>();
  const shootdownOpen = new Map<number, number>();
  const pendingFlows = new Map<string, TraceEvent>(); // `${ipi}/${vm}.${vcpu}` -> its flow start, held back
  const namedVcpus = new Set<string>();
  const namedPcpus = new Set<number>();
  const namedVms = new Set<number>();
  let names: readonly string[] = [];
  let nextFlow = 1;

  const pidOf = (vm: number): number => 2 + vm;
  const stateTid = (vcpu: number): number => 2 * vcpu + 1;
  const guestTid = (vcpu: number): number => 2 * vcpu + 2;
  const inWindow = (t: number): boolean => t >= from && t < to;
  /** A complete slice clipped to the window; dropped when outside it. */
  const slice = (name: string, start: number, end: number, pid: number, tid: number, cat: string, args?: Record<string, unknown>): void => {
    const a = Math.max(start, from);
    const b = Math.min(end, to);
    if (b < a || (b === a && !(start >= from && start < to))) return;
    events.push({ name, ph: 'X', ts: us(a), dur: us(b - a), pid, tid, cat, ...(args === undefined ? {} : { args }) });
  };
  const nameVcpu = (vm: number, vcpu: number): void => {
    const key = `${vm}.${vcpu}`;
    if (namedVcpus.has(key)) return;
    namedVcpus.add(key);
    if (!namedVms.has(vm)) {
      namedVms.add(vm);
      events.push({ name: 'process_name', ph: 'M', ts: 0, pid: pidOf(vm), tid: 0, args: { name: `VM ${names[vm] ?? vm}` } });
      events.push({ name: 'process_sort_index', ph: 'M', ts: 0, pid: pidOf(vm), tid: 0, args: { sort_index: 10 + vm } });
    }
    events.push({ name: 'thread_name', ph: 'M', ts: 0, pid: pidOf(vm), tid: stateTid(vcpu), args: { name: `vCPU ${vcpu}` } });
    events.push({ name: 'thread_name', ph: 'M', ts: 0, pid: pidOf(vm), tid: guestTid(vcpu), args: { name: `vCPU ${vcpu} guest` } });
  };
  const namePcpu = (p: number): void => {
    if (namedPcpus.has(p)) return;
    if (namedPcpus.size === 0) {
      events.push({ name: 'process_name', ph: 'M', ts: 0, pid: HOST_PID, tid: 0, args: { name: 'host' } });
      events.push({ name: 'process_sort_index', ph: 'M', ts: 0, pid: HOST_PID, tid: 0, args: { sort_index: 0 } });
    }
    namedPcpus.add(p);
    events.push({ name: 'thread_name', ph: 'M', ts: 0, pid: HOST_PID, tid: p + 1, args: { name: `pCPU ${p}` } });
  };

  const listen = (e: ModelEvent, vmNames: readonly string[]): void => {
    names = vmNames;
    switch (e.type) {
      case 'vcpu-state': {
        const { vm, vcpu } = e.vcpu;
        nameVcpu(vm, vcpu);
        const key = `${vm}.${vcpu}`;
        const prev = vcpuState.get(key);
        // The exited interval is drawn by its vm-exit (named by reason); others by state.
        if (prev !== undefined && prev.state !== 'exited' && prev.state !== 'offline') slice(prev.state, prev.since, e.t, pidOf(vm), stateTid(vcpu), 'vcpu');
        vcpuState.set(key, { state: e.to, since: e.t, pcpu: e.pcpu });
        const onCpu = e.to === 'in-guest' || e.to === 'exited';
        const run = pcpuRun.get(e.pcpu);
        if (run !== undefined && run.who === key && !onCpu) {
          namePcpu(e.pcpu);
          slice(`${names[vm] ?? vm}/vCPU ${vcpu}`, run.since, e.t, HOST_PID, e.pcpu + 1, 'pcpu', { vm: names[vm] ?? vm, vcpu });
          pcpuRun.delete(e.pcpu);
        } else if (onCpu && (run === undefined || run.who !== key)) {
          if (run !== undefined) {
            namePcpu(e.pcpu);
            slice(`${names[run.vm] ?? run.vm}/vCPU ${run.vcpu}`, run.since, e.t, HOST_PID, e.pcpu + 1, 'pcpu', { vm: names[run.vm] ?? run.vm, vcpu: run.vcpu });
          }
          pcpuRun.set(e.pcpu, { who: key, since: e.t, vm, vcpu });
        }
        break;
      }
      case 'vm-exit': {
        const { vm, vcpu } = e.vcpu;
        nameVcpu(vm, vcpu);
        slice(`exit: ${e.reason}`, e.t - e.cost, e.t, pidOf(vm), stateTid(vcpu), 'exit', { reason: e.reason, costNs: e.cost });
        break;
      }
      case 'handler-begin': {
        const key = `${e.vcpu.vm}.${e.vcpu.vcpu}`;
        const open = handlerOpen.get(key) ?? [];
        open.push(e.t);
        handlerOpen.set(key, open);
        break;
      }
      case 'handler-end': {
        const { vm, vcpu } = e.vcpu;
        nameVcpu(vm, vcpu);
        const start = handlerOpen.get(`${vm}.${vcpu}`)?.pop();
        if (start !== undefined) slice(`handler 0x${e.vector.toString(16)}`, start, e.t, pidOf(vm), guestTid(vcpu), 'handler', { vector: e.vector });
        break;
      }
      case 'shootdown-begin':
        shootdownOpen.set(e.id, e.t);
        break;
      case 'shootdown-end': {
        const { vm, vcpu } = e.vcpu;
        nameVcpu(vm, vcpu);
        const start = shootdownOpen.get(e.id);
        shootdownOpen.delete(e.id);
        if (start !== undefined) slice('TLB shootdown', start, e.t, pidOf(vm), guestTid(vcpu), 'shootdown', { id: e.id });
        break;
      }
      case 'stale-tlb-use': {
        const { vm, vcpu } = e.vcpu;
        nameVcpu(vm, vcpu);
        if (!inWindow(e.t)) break;
        events.push({ name: 'stale TLB use', ph: 'i', s: 't', ts: us(e.t), pid: pidOf(vm), tid: guestTid(vcpu), cat: 'tlb', args: { space: e.space, page: e.page, version: e.version, committed: e.committed } });
        break;
      }
      case 'ipi-sent': {
        const { vm, vcpu } = e.from;
        nameVcpu(vm, vcpu);
        if (!inWindow(e.t)) break;
        // A 0-length anchor slice for the arrows to start from.
        events.push({ name: `send IPI ${e.kind}`, ph: 'X', ts: us(e.t), dur: 0, pid: pidOf(vm), tid: guestTid(vcpu), cat: 'ipi', args: { id: e.id, vector: e.vector, targets: e.targets } });
        for (const t of e.targets) {
          pendingFlows.set(`${e.id}/${vm}.${t}`, { name: 'IPI', ph: 's', ts: us(e.t), pid: pidOf(vm), tid: guestTid(vcpu), cat: 'ipi', id: nextFlow++ });
        }
        break;
      }
      case 'ipi-handled': {
        const { vm, vcpu } = e.to;
        const key = `${e.id}/${vm}.${vcpu}`;
        const start = pendingFlows.get(key);
        if (start === undefined) break;
        const at = e.t - e.latency + e.sendToHandler;
        // A handler after the window: the arrow is dropped whole (one without an end would break the trace).
        pendingFlows.delete(key);
        if (!inWindow(at)) break;
        nameVcpu(vm, vcpu);
        events.push(start);
        events.push({ name: 'IPI', ph: 'f', bp: 'e', ts: us(at), pid: pidOf(vm), tid: guestTid(vcpu), cat: 'ipi', id: start.id! });
        break;
      }
      default:
    }
  };

  const out = runScenario(loaded, options.onProgress === undefined ? { listen } : { listen, onProgress: options.onProgress });
  // Close what is still open at the end of the run.
  const end = out.simulatedNs;
  for (const [key, st] of vcpuState) {
    const [vm, vcpu] = key.split('.').map(Number) as [number, number];
    if (st.state !== 'exited' && st.state !== 'offline') slice(st.state, st.since, end, pidOf(vm), stateTid(vcpu), 'vcpu');
  }
  for (const [p, run] of pcpuRun) {
    namePcpu(p);
    slice(`${names[run.vm] ?? run.vm}/vCPU ${run.vcpu}`, run.since, end, HOST_PID, p + 1, 'pcpu', { vm: names[run.vm] ?? run.vm, vcpu: run.vcpu });
  }
  // The arrows still held back never finished (their handler ran after the run): dropped whole.
  return { simulatedNs: end, events: emitted };
}
