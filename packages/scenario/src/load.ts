import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { isMap, isSeq, parseDocument, parse as parseYamlValue } from 'yaml';
import { describeIssues, pathString, ScenarioError } from './errors';
import { scenarioSchema, type Scenario } from './schema';

export interface LoadedScenario {
  readonly scenario: Scenario;
  /** Directory of the file, for resolving plugin paths. */
  readonly dir: string;
  readonly file: string;
}

/** Reads a YAML (or JSON) scenario file into a plain object; syntax errors carry line and column. */
export function readScenarioFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ScenarioError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a scenario file' : (e as Error).message}`);
  }
  const doc = parseDocument(text);
  const err = doc.errors[0];
  if (err !== undefined) {
    const pos = err.linePos?.[0];
    const where = pos === undefined ? '' : `:${pos.line}:${pos.col}`;
    const what = err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
    throw new ScenarioError(`${file}${where}: YAML syntax error: ${what}`);
  }
  if (!isMap(doc.contents) && !isSeq(doc.contents) && doc.contents !== null) {
    throw new ScenarioError(`${file}: expected a scenario (a mapping of host, hypervisor, vms, run, ...), got ${typeof doc.toJS()}`);
  }
  const value: unknown = doc.toJS();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ScenarioError(`${file}: expected a scenario (a mapping of host, hypervisor, vms, run, ...)`);
  return value;
}

const SEGMENT = /([^.[\]]+)|\[(\d+)\]/g;

/** Splits `vms[0].workload.mode` into ['vms', 0, 'workload', 'mode']. */
export function parsePath(path: string, shown = path): (string | number)[] {
  const out: (string | number)[] = [];
  let consumed = '';
  for (const m of path.matchAll(SEGMENT)) {
    out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
    consumed += m[0];
  }
  if (out.length === 0 || consumed.length !== path.replace(/\./g, '').length) {
    throw new ScenarioError(`--set ${shown}: expected a path such as hypervisor.backend or vms[0].vcpus`);
  }
  return out;
}

/**
 * Applies `path=value` to the raw scenario (before validation, so the schema checks the
 * result). The value is read as a YAML scalar or flow collection: 64, true, pv, [unicast, broadcast].
 */
export function applySet(raw: Record<string, unknown>, assignment: string): void {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ScenarioError(`--set ${assignment}: expected path=value, e.g. hypervisor.backend=pv`);
  const path = assignment.slice(0, eq).trim();
  const text = assignment.slice(eq + 1);
  let value: unknown;
  try {
    value = parseYamlValue(text);
  } catch {
    value = text;
  }
  const segs = parsePath(path, assignment);
  const shownPath = assignment;
  let node: unknown = raw;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    const container = node as Record<string | number, unknown>;
    if (typeof s === 'number') {
      if (!Array.isArray(node)) throw new ScenarioError(`--set ${shownPath}: ${pathString(segs.slice(0, i)) || 'scenario'} is not a list`);
      if (s >= node.length) throw new ScenarioError(`--set ${shownPath}: ${pathString(segs.slice(0, i + 1))} does not exist (${pathString(segs.slice(0, i))} has ${node.length})`);
    } else if (container[s] === undefined || container[s] === null) {
      container[s] = typeof segs[i + 1] === 'number' ? [] : {};
    }
    node = container[s];
    if (node === null || typeof node !== 'object') throw new ScenarioError(`--set ${shownPath}: ${pathString(segs.slice(0, i + 1))} is ${JSON.stringify(node)}, not a mapping`);
  }
  const last = segs[segs.length - 1]!;
  if (typeof last === 'number' && (!Array.isArray(node) || last > node.length)) {
    throw new ScenarioError(`--set ${shownPath}: ${pathString(segs)} does not exist`);
  }
  (node as Record<string | number, unknown>)[last] = value;
}

/** Validates a raw scenario; the first problem becomes a ScenarioError naming its path. */
export function validateScenario(raw: unknown, source = 'scenario'): Scenario {
  const r = scenarioSchema.safeParse(raw);
  if (!r.success) throw new ScenarioError(`${source}: ${describeIssues(r.error.issues, raw, scenarioSchema)}`, pathString(r.error.issues[0]!.path));
  const s = r.data;
  const names = new Set<string>();
  s.vms.forEach((vm, i) => {
    if (names.has(vm.name)) throw new ScenarioError(`${source}: vms[${i}].name: expected a name unused by other VMs, got ${JSON.stringify(vm.name)}`, `vms[${i}].name`);
    names.add(vm.name);
  });
  if (s.hypervisor.mode === 'bare-metal') {
    // Natively there is one machine running one OS: the scenario's one VM is it.
    const copies = s.vms.reduce((n, vm) => n + vm.count, 0);
    if (s.vms.length !== 1 || copies !== 1) {
      const what = s.vms.length !== 1 ? `${s.vms.length} VMs` : `vms[0].count ${copies}`;
      throw new ScenarioError(`${source}: vms: expected exactly one VM with count 1 when hypervisor.mode is bare-metal (its vCPUs are the host's CPUs), got ${what}`, 'vms');
    }
  }
  if (s.run.duration <= 0) throw new ScenarioError(`${source}: run.duration: expected a positive duration, got 0`, 'run.duration');
  if (s.run.warmup >= s.run.duration) throw new ScenarioError(`${source}: run.warmup: expected less than run.duration (${s.run.duration} ns), got ${s.run.warmup} ns`, 'run.warmup');
  return s;
}

/**
 * Reads, applies `--set` assignments to, and validates a scenario file. `source` names it in
 * error messages (default: the file; compare and sweep add the variant or grid point).
 */
export function loadScenario(file: string, sets: readonly string[] = [], source = file): LoadedScenario {
  const raw = readScenarioFile(file) as Record<string, unknown>;
  for (const s of sets) applySet(raw, s);
  return { scenario: validateScenario(raw, source), dir: dirname(resolve(file)), file };
}

/** Parses a `path=v1,v2,...` list of values (`--vary`, `--grid`); `flag` and `example` go into the error. */
export function parseValueList(flag: string, arg: string, example: string): { path: string; values: string[] } {
  const eq = arg.indexOf('=');
  const values = eq < 0 ? [] : arg.slice(eq + 1).split(',').map((v) => v.trim()).filter((v) => v.length > 0);
  if (eq <= 0 || values.length === 0) throw new ScenarioError(`${flag} ${arg}: expected path=v1,v2,... e.g. ${example}`);
  return { path: arg.slice(0, eq).trim(), values };
}
