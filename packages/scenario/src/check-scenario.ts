import { bareMetalBaseline } from './bare-metal-baseline';
import { buildRun, startRun, type ProblemSink } from './build-run';
import { dedupe, protoKeyProblems, schemaProblems, type Problem } from './errors';
import type { LoadedScenario } from './load';
import { metricVms, resolveMetrics } from './metrics';
import { resourceProblems } from './resource-guard';
import { scenarioSchema, type Scenario } from './schema';

/**
 * The one checker: every check a run makes on its input before it simulates. In order, each
 * stage only when the one before found nothing (its checks need what the earlier ones vouch for):
 * 1. the schema (types, ranges, unknown keys), every issue;
 * 2. the rules across fields (ruleProblems), every one;
 * 3. the model (`model: true`): the run is assembled as `run` assembles it — host, calibration,
 *    plugins and the names they register, the hypervisor's settings, each VM's placement on the
 *    host, guest settings and workload parameters, the workloads' tasks — without simulating,
 *    and so are the extra runs `run.slowdownVsAlone` and `run.slowdownVsBareMetal` make; the
 *    metrics (`run.metrics`) are resolved against the VMs' workloads.
 * A scenario this accepts fails a run only by exceeding `run.maxEvents` or `run.maxHeapMb`.
 */
export function checkScenario(raw: unknown, options: { dir: string; file: string; model: boolean }): { scenario?: Scenario; problems: Problem[] } {
  const proto = protoKeyProblems(raw);
  if (proto.length > 0) return { problems: proto };
  const r = scenarioSchema.safeParse(raw);
  if (!r.success) return { problems: schemaProblems(r.error.issues, raw, scenarioSchema) };
  const s = r.data;
  const problems = ruleProblems(s);
  if (problems.length === 0 && options.model) problems.push(...modelProblems({ scenario: s, dir: options.dir, file: options.file }));
  return problems.length > 0 ? { problems: dedupe(problems) } : { scenario: s, problems: [] };
}

/** Rules that tie fields together, each broken one a problem. */
export function ruleProblems(s: Scenario): Problem[] {
  const out: Problem[] = [];
  const names = new Map<string, number>();
  s.vms.forEach((vm, i) => {
    const other = names.get(vm.name);
    if (other !== undefined) out.push({ key: `vms[${i}].name`, message: `expected a name unused by other VMs, got ${JSON.stringify(vm.name)} (vms[${other}] has it)` });
    else names.set(vm.name, i);
  });
  if (s.hypervisor.mode === 'bare-metal') {
    // Natively there is one machine running one OS: the scenario's one VM is it.
    const copies = s.vms.reduce((n, vm) => n + vm.count, 0);
    if (s.vms.length !== 1 || copies !== 1) {
      const what = s.vms.length !== 1 ? `${s.vms.length} VMs` : `vms[0].count ${copies}`;
      out.push({ key: 'vms', message: `expected exactly one VM with count 1 when hypervisor.mode is bare-metal (its vCPUs are the host's CPUs), got ${what}` });
    }
  }
  if (s.run.duration <= 0) out.push({ key: 'run.duration', message: 'expected a positive duration, got 0' });
  else if (s.run.warmup >= s.run.duration) out.push({ key: 'run.warmup', message: `expected less than run.duration (${s.run.duration} ns), got ${s.run.warmup} ns` });
  // Replication k runs with seed run.seed + k: every one must be a seed.
  if (s.run.seed > Number.MAX_SAFE_INTEGER - (s.run.replications - 1)) out.push({ key: 'run.seed', message: `expected a seed that leaves room for run.replications (${s.run.replications}) seeds below 2^53, got ${s.run.seed}` });
  // Before the model is built: a run that cannot fit the heap is refused, not tried.
  out.push(...resourceProblems(s));
  return out;
}

/** Assembles the run and its extra runs (alone, on bare metal) in checking mode: every problem found. */
export function modelProblems(loaded: LoadedScenario): Problem[] {
  const s = loaded.scenario;
  const out: Problem[] = [];
  const sink: ProblemSink = (p) => void out.push(p);
  const built = buildRun(loaded, {}, sink);
  if (built !== undefined) startRun(built, s, sink);
  // The figures each VM is judged by: its workload must have them.
  if (built !== undefined && out.length === 0) out.push(...resolveMetrics(s.run.metrics, metricVms(built, s.vms.map((v) => v.name))).problems);
  if (out.length > 0) return out;
  // The extra runs differ in what they leave out; a problem of theirs is named after the key that asks for them.
  const extra = (key: string, what: string): ProblemSink => (p) => void out.push({ key, message: `${what}: ${p.key === '' ? '' : `${p.key}: `}${p.message}` });
  const firstNames = s.vms.map((vm) => (vm.count === 1 ? vm.name : `${vm.name}-1`));
  const copies = s.vms.reduce((n, vm) => n + vm.count, 0);
  if (s.run.slowdownVsAlone && copies >= 2) {
    for (const name of firstNames) {
      const sinkAlone = extra('run.slowdownVsAlone', `${name} alone`);
      const b = buildRun(loaded, { only: [name] }, sinkAlone);
      if (b !== undefined) startRun(b, s, sinkAlone);
    }
  }
  if (s.run.slowdownVsBareMetal && s.hypervisor.mode !== 'bare-metal') {
    for (const name of firstNames) {
      const baseline = bareMetalBaseline(loaded, name);
      if (baseline === undefined) continue;
      const sinkNative = extra('run.slowdownVsBareMetal', `${name} alone on bare metal`);
      const b = buildRun(baseline, {}, sinkNative);
      if (b !== undefined) startRun(b, baseline.scenario, sinkNative);
    }
  }
  return out;
}
