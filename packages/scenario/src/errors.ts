import { distance } from 'fastest-levenshtein';
import { describe } from '@ipilab/core';
import type { z } from 'zod';

/**
 * A scenario the user wrote that cannot run. `problems` holds one line per problem, each
 * `where: key: message` (where = `file:line:col`, or the `--set`/`--vary`/`--grid` argument that
 * put the value there); an error about the command line itself has none and is its message.
 */
export class ScenarioError extends Error {
  readonly problems: readonly string[];

  constructor(
    message: string,
    readonly field?: string,
    problems: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ScenarioError';
    this.problems = problems.map(printable);
  }

  /** One error for several located problems (at least one); its message is their lines. */
  static of(lines: readonly string[]): ScenarioError {
    const shown = lines.map(printable);
    return new ScenarioError(shown.join('\n'), undefined, shown);
  }
}

/**
 * A problem line as it may be shown: a key, file name or argument the user wrote is in it as
 * written, and a newline, carriage return or terminal escape in one (`"a\nb": 1`) would break the
 * line in two or redraw the terminal. Control characters and line separators are escaped as in JSON.
 */
export function printable(line: string): string {
  return line.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) => {
    const short: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };
    return short[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/** A thrown value that is not an Error, in words (`null`, `"boom"`, `an object (Object)`): never throws itself. */
export function describeThrown(value: unknown): string {
  return describe(value);
}

/** A plugin's code failed while the run used it: its author's to fix (exit 1, naming the plugin). */
export class PluginError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = 'PluginError';
  }
}

/** One problem of a scenario: the key it is about (its path in the scenario) and what is wrong. */
export interface Problem {
  /** `vms[1].vcpus`; '' for the scenario as a whole. */
  readonly key: string;
  /** What was expected and what was found, without the key. */
  readonly message: string;
  /** Locate the key itself rather than its value (an unknown key). */
  readonly atKey?: boolean;
}

/** `vms[1].vcpus` from ['vms', 1, 'vcpus']. */
export function pathString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

/** ['vms', 1, 'vcpus'] from `vms[1].vcpus` (the inverse of pathString; no checks). */
export function pathSegments(key: string): (string | number)[] {
  const out: (string | number)[] = [];
  for (const m of key.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) out.push(m[2] !== undefined ? Number(m[2]) : m[1]!);
  return out;
}

/**
 * The candidate a mistyped name most likely meant, or undefined when none is close: at most one
 * edit (Levenshtein) per three characters of the longer name, at least one, letter case
 * ignored; two neighbouring letters swapped count as one edit (`vsm` for `vms`). A far-fetched
 * suggestion misleads more than none.
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const l = c.toLowerCase();
    let d = distance(w, l);
    if (d === 2 && isSwap(w, l)) d = 1;
    const limit = Math.max(1, Math.floor(Math.max(w.length, l.length) / 3));
    if (d <= limit && d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** `a` is `b` with two neighbouring characters swapped. */
function isSwap(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  const diff: number[] = [];
  for (let i = 0; i < a.length && diff.length <= 2; i++) if (a[i] !== b[i]) diff.push(i);
  return diff.length === 2 && diff[1] === diff[0]! + 1 && a[diff[0]!] === b[diff[1]!] && a[diff[1]!] === b[diff[0]!];
}

/** `; did you mean "x"?` when a candidate is close, else ''. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const s = suggest(word, candidates);
  return s === undefined ? '' : `; did you mean ${JSON.stringify(s)}?`;
}

/** `expected <what>: one of "a", "b", got "x"; did you mean "a"?` for a name outside a known set. */
export function expectedOneOf(got: string, known: readonly string[], what?: string): string {
  return `expected ${what === undefined ? '' : `${what}: `}one of ${known.map((k) => JSON.stringify(k)).join(', ')}, got ${JSON.stringify(got)}${didYouMean(got, known)}`;
}

export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = input;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

export function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `a list (${JSON.stringify(v).slice(0, 40)})`;
  if (v !== null && typeof v === 'object') return 'an object';
  return String(v);
}

interface Def {
  type: string;
  shape?: Record<string, { _zod: { def: Def } }>;
  element?: { _zod: { def: Def } };
  innerType?: { _zod: { def: Def } };
  in?: { _zod: { def: Def } };
  options?: { _zod: { def: Def } }[];
  catchall?: { _zod: { def: Def } };
}

/** What the schema says about `path`: the keys an object there accepts, or that it is open (a record or a workload's parameters). */
export function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): { exists: boolean; keys: string[]; open: boolean } {
  let def = (schema as unknown as { _zod: { def: Def } })._zod.def;
  const unwrap = (): void => {
    for (;;) {
      if ((def.type === 'default' || def.type === 'optional' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) def = def.innerType._zod.def;
      else if (def.type === 'pipe' && def.in) def = def.in._zod.def;
      else return;
    }
  };
  unwrap();
  for (const p of path) {
    if (def.type === 'object' && def.shape && typeof p === 'string' && def.shape[p]) def = def.shape[p]._zod.def;
    else if (def.type === 'object' && typeof p === 'string' && def.catchall !== undefined && def.catchall._zod.def.type !== 'never') return { exists: true, keys: [], open: true };
    else if (def.type === 'record') return { exists: true, keys: [], open: true };
    else if (def.type === 'array' && def.element && typeof p === 'number') def = def.element._zod.def;
    else return { exists: false, keys: [], open: false };
    unwrap();
  }
  const open = def.type === 'record' || (def.type === 'object' && def.catchall !== undefined && def.catchall._zod.def.type !== 'never');
  return { exists: true, keys: def.type === 'object' && def.shape ? Object.keys(def.shape) : [], open };
}

/** The keys an object accepts at `path` of the schema (for "did you mean"). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  return schemaAt(schema, path).keys;
}

/**
 * Every validation issue as a problem naming its key. A required key that is missing while an
 * unknown key beside it is a near miss of it (`vsm:` for `vms:`) is not reported: the unknown
 * key's "did you mean" says it all.
 */
export function schemaProblems(given: readonly z.core.$ZodIssue[], input: unknown, schema: z.ZodType): Problem[] {
  const out: Problem[] = [];
  const issues = given.flatMap(unionBranch);
  const nearMisses = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    for (const key of issue.keys) {
      const s = suggest(key, knownKeysAt(schema, issue.path));
      if (s !== undefined) nearMisses.add(pathString([...issue.path, s]));
    }
  }
  for (const issue of issues) {
    const at = pathString(issue.path);
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeysAt(schema, issue.path);
      for (const key of issue.keys) {
        const s = suggest(key, known);
        const hint = s !== undefined ? `; did you mean ${JSON.stringify(s)}?` : known.length > 0 ? `; expected one of ${known.join(', ')}` : '';
        out.push({ key: pathString([...issue.path, key]), message: `unknown key${hint}`, atKey: true });
      }
      continue;
    }
    const got = valueAt(input, issue.path);
    if (issue.code === 'invalid_value') {
      const values = issue.values.map((x) => JSON.stringify(x));
      const hint = typeof got === 'string' ? didYouMean(got, issue.values.filter((x): x is string => typeof x === 'string')) : '';
      out.push({ key: at, message: `expected one of ${values.join(', ')}, got ${show(got)}${hint}` });
      continue;
    }
    if (got === undefined && issue.code === 'invalid_type') {
      if (nearMisses.has(at)) continue;
      // Where any key is taken (a workload's parameters), a near miss beside it is no unknown key to the schema: it is still the typo.
      const name = issue.path[issue.path.length - 1];
      const siblings = valueAt(input, issue.path.slice(0, -1));
      if (typeof name === 'string' && siblings !== null && typeof siblings === 'object' && !Array.isArray(siblings)) {
        const known = new Set(knownKeysAt(schema, issue.path.slice(0, -1)));
        const typo = Object.keys(siblings).find((k) => !known.has(k) && suggest(k, [name]) === name);
        if (typo !== undefined) {
          out.push({ key: pathString([...issue.path.slice(0, -1), typo]), message: `unknown key; did you mean ${JSON.stringify(name)}?`, atKey: true });
          continue;
        }
      }
      out.push({ key: at, message: `missing; expected ${issue.message.startsWith('expected') ? issue.message.slice(9) : issue.expected}` });
      continue;
    }
    const msg = issue.message.startsWith('expected') ? issue.message : `expected ${issue.message.replace(/^Invalid input: expected /, '')}`;
    out.push({ key: at, message: msg.includes(', got ') ? msg : `${msg}, got ${show(got)}` });
  }
  return dedupe(out);
}

/**
 * A value no option of a union accepts (`mode: unicst` where a mode or a list of modes is
 * expected): when exactly one option has the value's type, its issues say what is wrong
 * (`expected one of ..., did you mean "unicast"?`, at `mode[1]` in a list) rather than "invalid input".
 */
function unionBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union' || issue.errors.length === 0) return [issue];
  // The option whose problems are all inside the value (a list with one bad item), else the only one of the value's type.
  const inside = issue.errors.filter((b) => b.every((i) => i.path.length > 0));
  const typed = issue.errors.filter((b) => !b.some((i) => i.code === 'invalid_type' && i.path.length === 0));
  const branch = inside.length === 1 ? inside[0]! : typed.length === 1 ? typed[0]! : undefined;
  if (branch === undefined) return [issue];
  return branch.flatMap((i) => unionBranch({ ...i, path: [...issue.path, ...i.path] } as z.core.$ZodIssue));
}

/**
 * Every `__proto__` key of a document (YAML and JSON keep it as a key of its own). No scenario
 * has one, and where the schema takes any key (a workload's parameters, calibration overrides)
 * copying it would set the copy's prototype instead: the key would vanish without a word.
 */
export function protoKeyProblems(input: unknown): Problem[] {
  const out: Problem[] = [];
  // A stack, not recursion, and each node's place as a link to its parent's, not a copied path:
  // a document nested thousands deep is the schema's to refuse, not a stack overflow or a stall.
  interface Place { readonly key: PropertyKey; readonly up: Place | undefined }
  const pathOf = (p: Place | undefined): PropertyKey[] => {
    const keys: PropertyKey[] = [];
    for (let q = p; q !== undefined; q = q.up) keys.push(q.key);
    return keys.reverse();
  };
  const todo: [unknown, Place | undefined][] = [[input, undefined]];
  for (let next = todo.pop(); next !== undefined; next = todo.pop()) {
    const [node, place] = next;
    if (node === null || typeof node !== 'object') continue;
    for (const [k, v] of Object.entries(node)) {
      const at: Place = { key: Array.isArray(node) ? Number(k) : k, up: place };
      if (k === '__proto__') out.push({ key: pathString(pathOf(at)), message: 'unknown key: no scenario has it (__proto__ is refused)', atKey: true });
      else todo.push([v, at]);
    }
  }
  return out;
}

/** Problems with the same key and message once, in their first order. */
export function dedupe<T extends Problem>(ps: readonly T[]): T[] {
  const seen = new Set<string>();
  return ps.filter((p) => {
    const k = `${p.key}\u0000${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/** The first validation issue as one line: `vms[1].vcpus: expected a positive integer, got -4` (kept for programmatic users). */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, schema: z.ZodType): string {
  return schemaProblems(issues, input, schema)
    .map((p) => (p.key === '' ? `scenario: ${p.message}` : `${p.key}: ${p.message}`))
    .join('; ');
}
