import { dirname, resolve } from 'node:path';
import { isMap, isScalar, isSeq, parseDocument, type Node } from 'yaml';
import { checkScenario } from './check-scenario';
import { pathSegments, pathString, ScenarioError, type Problem } from './errors';
import { InputTooLarge, readInputText } from './input-file';
import type { Scenario } from './schema';
import { SourceLocations } from './source-location';

/** A checked scenario, with where it came from (for paths relative to it and provenance). */
export interface LoadedScenario {
  readonly scenario: Scenario;
  /** Directory of the file, for resolving plugin paths. */
  readonly dir: string;
  readonly file: string;
}

/** A value put at a scenario path from outside the file: `--set`, a `--vary` variant, a `--grid` point. */
export interface Override {
  readonly path: string;
  readonly value: unknown;
  /** Where it came from, the start of each problem line about it: `--set vms[0].vcpus=4`, `grid.yaml:3:5`. */
  readonly origin: string;
  /** The value is added at the end of the list at `path` (`--plugin`), not put at `path`. */
  readonly append?: boolean;
}

/** An appending override as the one it is on this raw scenario: its value put at the list's next index. */
function atEnd(raw: Record<string, unknown>, o: Override): Override {
  if (o.append !== true) return o;
  let node: unknown = raw;
  for (const seg of pathSegments(o.path)) node = node !== null && typeof node === 'object' ? (node as Record<string | number, unknown>)[seg] : undefined;
  return { path: `${o.path}[${Array.isArray(node) ? node.length : 0}]`, value: o.value, origin: o.origin };
}

/**
 * A scenario, read: its plain value and where each key is in it. A scenario recorded in an
 * output's provenance (`ipilab rerun`) has no file to point into: it gives the directory its
 * plugin paths are relative to and the name its problem lines start with instead.
 */
export interface ScenarioSource {
  /** The scenario file's name (outputs are named after it). */
  readonly file: string;
  readonly raw: Readonly<Record<string, unknown>>;
  /** Where each key is in the file (absent for a recorded scenario). */
  readonly locations?: SourceLocations;
  /** The directory plugin paths are relative to (default: the file's). */
  readonly dir?: string;
  /** What problem lines start with (default: the file, with line and column when known). */
  readonly shown?: string;
}

/** The most YAML syntax errors listed, in the file's order; a line then says how many more. */
const MAX_SYNTAX_LINES = 10;

/** The yaml library's guard against alias bombs (its default): how often one alias may be expanded, weighted by the size of what it expands to. */
const MAX_ALIAS_COUNT = 100;

/**
 * Reads a YAML (or JSON) scenario file of at most `maxBytes` (readInputText); a missing file, one
 * over the limit or a syntax error is a ScenarioError (with line and column).
 */
export function readScenario(file: string, maxBytes?: number): ScenarioSource {
  const { value, locations } = readYamlMapping(file, maxBytes, { shown: file, expected: 'a scenario (a mapping of host, hypervisor, vms, run, ...)', kind: 'a scenario file' });
  return { file, raw: value, locations };
}

/**
 * Reads a YAML (or JSON) file that must hold one mapping, with every guard a scenario file has:
 * its size capped, syntax errors one line each with line and column (said once, the first ten),
 * too-deep nesting and alias bombs or self-holding aliases one line, YAML 1.1 tags left unresolved.
 * `shown` starts the lines about reading the file (`--grid-file g.yaml`), `expected` says what it
 * must hold, `kind` what a directory is not. Returns the document (for positions) and its value.
 */
export function readYamlMapping(file: string, maxBytes: number | undefined, what: { shown: string; expected: string; kind: string }): { doc: ReturnType<typeof SourceLocations.parse>['doc']; locations: SourceLocations; value: Record<string, unknown> } {
  let text: string;
  try {
    text = readInputText(file, maxBytes);
  } catch (e) {
    if (e instanceof InputTooLarge) throw new ScenarioError(`${what.shown}: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    throw new ScenarioError(`${what.shown}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? `is a directory, expected ${what.kind}` : (e as Error).message}`);
  }
  const { doc, locations } = SourceLocations.parse(file, text);
  if (doc.errors.length > 0) {
    const line = (err: (typeof doc.errors)[number], what: string): string => {
      const pos = err.linePos?.[0];
      return `${file}${pos === undefined ? '' : `:${pos.line}:${pos.col}`}: ${what}`;
    };
    // The yaml library reads nested collections by recursion and reports running out of stack as
    // errors of the document, one per level it unwinds: the first says it.
    const deep = doc.errors.find((err) => /Maximum call stack size exceeded/.test(err.message));
    if (deep !== undefined) throw ScenarioError.of([line(deep, 'YAML: nested too deeply to read (lists or mappings hundreds of levels inside one another); expected a scenario a few levels deep')]);
    // Each unclosed bracket of `[[[[` is the same error at the same place: it is said once.
    const lines = [...new Set(doc.errors.map((err) => line(err, `YAML syntax error: ${err.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`)))];
    // One slip can make every token after it an error: the first few say where to look.
    if (lines.length > MAX_SYNTAX_LINES) throw ScenarioError.of([...lines.slice(0, MAX_SYNTAX_LINES), `${file}: YAML: ${lines.length - MAX_SYNTAX_LINES} more syntax errors after these (often the first one's doing)`]);
    throw ScenarioError.of(lines);
  }
  if (!isMap(doc.contents) && !isSeq(doc.contents) && doc.contents !== null) {
    // Not doc.toJS(): a document that is one alias (`*x`) has no anchor to resolve, and it would throw.
    throw new ScenarioError(`${file}: expected ${what.expected}, got ${isScalar(doc.contents) ? typeof doc.contents.value : 'an alias'}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (e) {
    // The yaml library refuses an alias expanded too often (a "billion laughs" file) with a ReferenceError.
    if (e instanceof ReferenceError && /alias/i.test(e.message)) throw new ScenarioError(`${file}: YAML aliases: ${e.message.includes('resource exhaustion') ? `expand to too much (an alias used more than ${MAX_ALIAS_COUNT} times, or aliases of aliases); expected a scenario whose aliases expand to a reasonable size` : e.message}`);
    throw e;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ScenarioError(`${value === null ? file : locations.locateNode(doc.contents as Node | null)}: expected ${what.expected}`);
  if (holdsItself(value)) throw new ScenarioError(`${file}: YAML aliases: ${SELF_ALIAS}`);
  return { doc, locations, value: value as Record<string, unknown> };
}

/** Reads a YAML (or JSON) scenario file into a plain object; syntax errors carry line and column. */
export function readScenarioFile(file: string): unknown {
  return readScenario(file).raw;
}

const SEGMENT = /([^.[\]]+)|\[(\d+)\]/g;
/** A well-formed path: keys joined by dots, each key followed by any number of list indexes. */
const PATH = /^[^.[\]]+(\[\d+\])*(\.[^.[\]]+(\[\d+\])*)*$/;

/**
 * Keys no path may name: writing through them would change what every object inherits
 * (`__proto__.x=1`) rather than a key of the scenario, which has none of these names.
 */
export const FORBIDDEN_KEYS: readonly string[] = ['__proto__', 'constructor', 'prototype'];

/** Splits `vms[0].workload.mode` into ['vms', 0, 'workload', 'mode']; `shown` names the argument in the error. */
export function parsePath(path: string, shown = `--set ${path}`): (string | number)[] {
  const expected = 'expected a path such as hypervisor.backend or vms[0].vcpus';
  if (!PATH.test(path)) {
    const empty = path === '' || path.startsWith('.') || path.endsWith('.') || path.includes('..');
    throw new ScenarioError(`${shown}: ${expected}${empty ? ', got an empty key (two dots, or one at an end)' : ''}`);
  }
  const out: (string | number)[] = [];
  for (const m of path.matchAll(SEGMENT)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  const bad = out.find((seg) => typeof seg === 'string' && FORBIDDEN_KEYS.includes(seg));
  if (bad !== undefined) throw new ScenarioError(`${shown}: ${expected}, got ${JSON.stringify(bad)}, which no scenario has (${FORBIDDEN_KEYS.join(', ')} are refused)`);
  return out;
}

/** A `--set` value: a YAML scalar or flow collection (64, true, pv, [unicast, broadcast], {kind: compute}). */
export function parseOverrideValue(text: string): unknown {
  let value: unknown;
  try {
    // Not the yaml library's parse(): it prints a warning (an unknown tag, `!!float abc`) on
    // stderr as a process warning. A value with errors or warnings is not YAML: it is its text.
    // YAML 1.1's tags (!!binary, !!set, ...) are unknown here too: they would make a Buffer or a Set.
    const doc = parseDocument(text, { resolveKnownTags: false });
    if (doc.errors.length > 0 || doc.warnings.length > 0) return text;
    value = doc.toJS();
  } catch {
    return text;
  }
  // A value holding itself (`&a [*a]`) has no end: it is the text as written, which the schema refuses.
  return holdsItself(value) ? text : value;
}

const SELF_ALIAS = 'an alias inside its own anchor (as in a: &a [*a]) makes a value without end; expected each alias after the end of its anchor\'s value';

/**
 * Whether a value contains itself, as a YAML alias inside its own anchor makes it: every check
 * after reading walks the value, and would never finish. Shared values (an alias used twice)
 * are not a cycle. Without recursion, as a document may nest thousands deep.
 */
export function holdsItself(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false;
  const open = new Set<object>();
  const done = new Set<object>();
  const todo: [object, boolean][] = [[value, false]];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    const [node, leaving] = next;
    if (leaving) {
      open.delete(node);
      done.add(node);
      continue;
    }
    if (done.has(node)) continue;
    open.add(node);
    todo.push([node, true]);
    for (const v of Object.values(node)) {
      if (v === null || typeof v !== 'object' || done.has(v)) continue;
      if (open.has(v)) return true;
      todo.push([v, false]);
    }
  }
  return false;
}

/**
 * An override as a command gives it: a `--set` assignment `path=value`, or one made already
 * (`--metric`'s `run.metrics`, with its own origin).
 */
export type SetArg = string | Override;

/** A SetArg as an Override: an assignment is parsed as `--set`'s. */
export function toOverride(s: SetArg): Override {
  return typeof s === 'string' ? parseOverride(s) : s;
}

/** Parses `path=value` (`--set`): the path checked for its form, the value read as YAML. */
export function parseOverride(assignment: string, flag = '--set'): Override {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new ScenarioError(`${flag} ${assignment}: expected path=value, e.g. hypervisor.backend=pv`);
  const path = assignment.slice(0, eq).trim();
  parsePath(path, `${flag} ${assignment}`);
  return { path, value: parseOverrideValue(assignment.slice(eq + 1)), origin: `${flag} ${assignment}` };
}

/**
 * Puts an override's value into the raw scenario (before validation, so the schema checks the
 * result), creating the mappings on its way. A path through a missing list item or a value that
 * is not a mapping is a problem of the override.
 */
export function applyOverride(raw: Record<string, unknown>, given: Override): Problem | undefined {
  const o = atEnd(raw, given);
  const segs = pathSegments(o.path);
  // Paths are checked when parsed (parsePath); one built another way must not reach a prototype either.
  const bad = segs.findIndex((seg) => typeof seg === 'string' && FORBIDDEN_KEYS.includes(seg));
  if (bad >= 0) return { key: pathString(segs.slice(0, bad + 1)), message: `no scenario has this key (${FORBIDDEN_KEYS.join(', ')} are refused)` };
  let node: unknown = raw;
  for (let i = 0; i < segs.length - 1; i++) {
    const s = segs[i]!;
    const container = node as Record<string | number, unknown>;
    if (typeof s === 'number') {
      if (!Array.isArray(node)) return { key: pathString(segs.slice(0, i + 1)), message: `${pathString(segs.slice(0, i)) || 'the scenario'} is not a list` };
      if (s >= node.length) return { key: pathString(segs.slice(0, i + 1)), message: `does not exist (${pathString(segs.slice(0, i))} has ${node.length})` };
    } else if (Array.isArray(node)) {
      return { key: pathString(segs.slice(0, i + 1)), message: `${pathString(segs.slice(0, i))} is a list: expected an index such as ${pathString(segs.slice(0, i))}[0]` };
    } else if (!Object.hasOwn(container, s) || container[s] === undefined || container[s] === null) {
      container[s] = typeof segs[i + 1] === 'number' ? [] : {};
    }
    node = container[s];
    if (node === null || typeof node !== 'object') return { key: pathString(segs.slice(0, i + 1)), message: `is ${JSON.stringify(node)}, not a mapping` };
  }
  const last = segs[segs.length - 1]!;
  if (typeof last === 'number' && (!Array.isArray(node) || last > node.length)) return { key: pathString(segs), message: 'does not exist' };
  (node as Record<string | number, unknown>)[last] = o.value;
  return undefined;
}

/**
 * Applies `path=value` to the raw scenario (before validation, so the schema checks the
 * result). The value is read as a YAML scalar or flow collection: 64, true, pv, [unicast, broadcast].
 */
export function applySet(raw: Record<string, unknown>, assignment: string): void {
  const o = parseOverride(assignment);
  const p = applyOverride(raw, o);
  if (p !== undefined) throw new ScenarioError(`${o.origin}: ${p.key}: ${p.message}`, p.key);
}

/**
 * One line per problem, `where: key: message`: `where` is the override that put the value
 * there (the last one whose path covers the key), else the key's place in the file.
 */
export function problemLines(problems: readonly Problem[], locations: SourceLocations | undefined, overrides: readonly Override[], file: string): string[] {
  const lines = problems.map((p, i) => {
    const segs = pathSegments(p.key);
    const by = [...overrides].reverse().find((o) => {
      const os = pathSegments(o.path);
      return os.length <= segs.length && os.every((x, k) => x === segs[k]);
    });
    const pos = by === undefined ? locations?.position(p.key, p.atKey === true) : undefined;
    const where = by?.origin ?? (pos === undefined ? file : `${file}:${pos.line}:${pos.col}`);
    return { line: `${where}: ${p.key === '' ? '' : `${p.key}: `}${p.message}`, order: [pos?.line ?? Infinity, pos?.col ?? Infinity, i] as const };
  });
  // In the file's order, as an editor lists them; the overrides' problems after.
  return lines.sort((a, b) => a.order[0] - b.order[0] || a.order[1] - b.order[1] || a.order[2] - b.order[2]).map((l) => l.line);
}

/** Validates a raw scenario (schema and cross-field rules, not the model): every problem, one line each, as a ScenarioError. */
export function validateScenario(raw: unknown, source = 'scenario'): Scenario {
  const r = checkScenario(raw, { dir: process.cwd(), file: source, model: false });
  if (r.scenario === undefined) throw ScenarioError.of(r.problems.map((p) => `${source}: ${p.key === '' ? '' : `${p.key}: `}${p.message}`));
  return r.scenario;
}

/**
 * Checks a scenario from its source and overrides, as `run` would use it: the file, then the
 * overrides in order, then every check (checkScenario). Problems come back as lines; the
 * scenario only when there are none.
 */
export function checkSource(src: ScenarioSource, overrides: readonly Override[]): { loaded?: LoadedScenario; lines: string[] } {
  const raw = structuredClone(src.raw) as Record<string, unknown>;
  const applied: string[] = [];
  // Each as it applied (an appended plugin at its index), so its problems are said to be its own.
  const made = overrides.map((given) => {
    const o = atEnd(raw, given);
    const p = applyOverride(raw, o);
    if (p !== undefined) applied.push(`${o.origin}: ${p.key}: ${p.message}`);
    return o;
  });
  // One argument may make several overrides (`--metric` sets run.metrics and each item): a problem they share is said once.
  if (applied.length > 0) return { lines: [...new Set(applied)] };
  const dir = src.dir ?? dirname(resolve(src.file));
  const r = checkScenario(raw, { dir, file: src.file, model: true });
  if (r.problems.length > 0) return { lines: problemLines(r.problems, src.locations, made, src.shown ?? src.file) };
  return { loaded: { scenario: r.scenario!, dir, file: src.file }, lines: [] };
}

/**
 * Reads, applies `--set` assignments to, and checks a scenario file: everything `run` checks
 * before it simulates (checkScenario). Every problem is a line of the ScenarioError thrown.
 */
export function loadScenario(file: string, sets: readonly SetArg[] = []): LoadedScenario {
  const overrides = sets.map(toOverride);
  const r = checkSource(readScenario(file), overrides);
  if (r.loaded === undefined) throw ScenarioError.of(r.lines);
  return r.loaded;
}
