import { closest } from 'fastest-levenshtein';
import type { z } from 'zod';

/** A scenario the user wrote that cannot run: one line, naming the field and what was expected. */
export class ScenarioError extends Error {
  constructor(
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'ScenarioError';
  }
}

/** `vms[1].vcpus` from ['vms', 1, 'vcpus']. */
export function pathString(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out === '' ? String(p) : `.${String(p)}`;
  return out;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
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
}

/** The keys an object accepts at `path` of the schema (for "did you mean"). */
export function knownKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
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
    else if (def.type === 'array' && def.element && typeof p === 'number') def = def.element._zod.def;
    else return [];
    unwrap();
  }
  return def.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** The first validation issue as one line: `vms[1].vcpus: expected a positive integer, got -4`. */
export function describeIssues(issues: readonly z.core.$ZodIssue[], input: unknown, schema: z.ZodType): string {
  const issue = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  const at = pathString(issue.path);
  const prefix = at === '' ? 'scenario' : at;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const known = knownKeysAt(schema, issue.path);
    const hint = known.length > 0 ? `; did you mean ${JSON.stringify(closest(key, known))}? (known: ${known.join(', ')})` : '';
    return `${at === '' ? key : `${at}.${key}`}: unknown key${hint}${more}`;
  }
  const got = valueAt(input, issue.path);
  if (issue.code === 'invalid_value') {
    return `${prefix}: expected one of ${issue.values.map((x) => JSON.stringify(x)).join(', ')}, got ${show(got)}${more}`;
  }
  if (got === undefined && issue.code === 'invalid_type') return `${prefix}: missing; expected ${issue.message.startsWith('expected') ? issue.message.slice(9) : issue.expected}${more}`;
  const msg = issue.message.startsWith('expected') ? issue.message : `expected ${issue.message.replace(/^Invalid input: expected /, '')}`;
  if (msg.includes(', got ')) return `${prefix}: ${msg}${more}`;
  return `${prefix}: ${msg}, got ${show(got)}${more}`;
}
