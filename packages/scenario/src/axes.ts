import { isMap, isScalar, isSeq, type Node } from 'yaml';
import { didYouMean, pathSegments, pathString, schemaAt, ScenarioError } from './errors';
import { parseOverrideValue, parsePath, readYamlMapping, type Override } from './load';
import { scenarioSchema } from './schema';

/** One value of an axis: as written (`[0,1]`, `4`, `pv`), as a value, and where it came from. */
export interface AxisValue {
  readonly text: string;
  readonly value: unknown;
  /** The start of a problem line about this value: `--grid vms[0].vcpus=4`, `grid.yaml:3:5`. */
  readonly origin: string;
}

/** A key of the scenario and the values it takes (`--vary`, `--grid`, a grid file's entry). */
export interface Axis {
  readonly path: string;
  readonly values: readonly AxisValue[];
  /** Where the axis was given, for messages: `--grid vms[0].vcpus=2,4`, `grid.yaml:3:1`. */
  readonly shown?: string;
}

/** Most values one axis may have: a range typed by mistake (1..1e9) is refused, not expanded. */
export const MAX_AXIS_VALUES = 10_000;

/**
 * Splits a list of values at its top-level commas: `[0,1],[2,3]` is two values, `{a: 1, b: 2}`
 * one; commas inside brackets, braces or quotes belong to the value.
 */
export function splitTopLevel(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let quote: string | null = null;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== null) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '{') depth++;
    else if ((c === ']' || c === '}') && depth > 0) depth--;
    else if (c === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((v) => v.trim());
}

const NUM = '(-?\\d+(?:\\.\\d+)?)';
/** `a..b`, `a..b:step` (arithmetic) or `a..b*factor` (geometric), with an optional unit on both ends (`1ms..8ms*2`). */
const RANGE = new RegExp(`^${NUM}([a-zµ]*)\\.\\.${NUM}([a-zµ]*)(?:([:*])(\\d+(?:\\.\\d+)?))?$`);

/** Rounds away binary noise from repeated addition (0.1 + 0.2), keeping 12 significant digits. */
const tidy = (x: number): number => Number(x.toPrecision(12));

/**
 * Expands a numeric range: `1..8` (1, 2, ..., 8), `0..100:25` (0, 25, 50, 75, 100), `2..32*2`
 * (2, 4, 8, 16, 32); the ends are included when the steps reach them exactly. Returns undefined
 * when `text` is not a range; throws (naming `shown`) when it is a malformed one.
 */
export function expandRange(text: string, shown: string): string[] | undefined {
  const m = RANGE.exec(text);
  if (m === null) return undefined;
  const [, a, unitA, b, unitB, op, by] = m;
  const from = Number(a);
  const to = Number(b);
  const unit = unitA!;
  const bad = (why: string): never => {
    throw new ScenarioError(`${shown}: ${why} (ranges are from..to, from..to:step or from..to*factor, e.g. 1..8, 0..100:25, 2..32*2)`);
  };
  if (unitA !== unitB) bad(`range ${text}: both ends need the same unit, got ${JSON.stringify(unitA)} and ${JSON.stringify(unitB)}`);
  if (from > to) bad(`range ${text}: expected from <= to`);
  // The end is included when the steps reach it up to rounding (0..1:0.1 ends at 1).
  const end = to + Math.abs(to) * 1e-12 + 1e-12;
  const values: number[] = [];
  if (op === '*') {
    const f = Number(by);
    if (!(f > 1)) bad(`range ${text}: expected a factor > 1`);
    if (!(from > 0)) bad(`range ${text}: a geometric range needs from > 0`);
    for (let x = from; x <= end && values.length <= MAX_AXIS_VALUES; x = tidy(x * f)) values.push(x);
  } else {
    const step = op === ':' ? Number(by) : 1;
    if (!(step > 0)) bad(`range ${text}: expected a step > 0`);
    for (let k = 0; values.length <= MAX_AXIS_VALUES; k++) {
      const x = tidy(from + k * step);
      if (x > end) break;
      values.push(x);
    }
  }
  if (values.length > MAX_AXIS_VALUES) bad(`range ${text}: more than ${MAX_AXIS_VALUES} values`);
  return values.map((x) => `${x}${unit}`);
}

/**
 * Checks an axis path: well formed, and a key a scenario has (a VM's workload parameters and
 * calibration overrides are open: the workload and the profile check those).
 */
export function checkAxisPath(path: string, shown: string): void {
  const segs = parsePath(path, shown);
  if (schemaAt(scenarioSchema, segs).exists) return;
  // Name the first segment that is not a key, with the nearest one if close.
  for (let i = 1; i <= segs.length; i++) {
    if (schemaAt(scenarioSchema, segs.slice(0, i)).exists) continue;
    const seg = segs[i - 1]!;
    const parent = segs.slice(0, i - 1);
    const at = schemaAt(scenarioSchema, parent);
    const where = pathString(segs.slice(0, i));
    if (typeof seg === 'number') throw new ScenarioError(`${shown}: ${where}: ${pathString(parent) || 'the scenario'} is not a list`);
    if (schemaAt(scenarioSchema, [...parent, 0]).exists) throw new ScenarioError(`${shown}: ${where}: ${pathString(parent)} is a list: expected an index such as ${pathString([...parent, 0])}`);
    if (at.keys.length === 0) throw new ScenarioError(`${shown}: ${where}: ${pathString(parent)} is a value, not a mapping`);
    const hint = didYouMean(seg, at.keys) || `; expected one of ${at.keys.join(', ')}`;
    throw new ScenarioError(`${shown}: ${where}: no such key in a scenario${hint}`);
  }
}

/**
 * Parses `path=v1,v2,...` (`--vary`, `--grid`): values split at top-level commas, each a YAML
 * scalar or flow collection (`[0,1]`, `{kind: compute}`) or a numeric range (expandRange).
 */
export function parseAxis(flag: string, arg: string, example: string): Axis {
  const eq = arg.indexOf('=');
  const usage = `${flag} ${arg}: expected path=v1,v2,... e.g. ${example}`;
  if (eq <= 0) throw new ScenarioError(usage);
  const path = arg.slice(0, eq).trim();
  checkAxisPath(path, `${flag} ${arg}`);
  const pieces = splitTopLevel(arg.slice(eq + 1));
  if (pieces.every((p) => p === '')) throw new ScenarioError(usage);
  const values: AxisValue[] = [];
  for (const piece of pieces) {
    if (piece === '') throw new ScenarioError(`${flag} ${arg}: an empty value (two commas, or one at an end)`);
    const range = expandRange(piece, `${flag} ${arg}`);
    for (const text of range ?? [piece]) values.push({ text, value: parseOverrideValue(text), origin: `${flag} ${path}=${text}` });
  }
  checkDistinct(values, `${flag} ${arg}`);
  return { path, values, shown: `${flag} ${arg}` };
}

function checkDistinct(values: readonly AxisValue[], shown: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    const k = JSON.stringify(v.value);
    if (seen.has(k)) throw new ScenarioError(`${shown}: value ${v.text} appears twice`);
    seen.add(k);
  }
}

/** A value as written on a command line: strings as they are when that reads back the same, else JSON (valid YAML flow). */
function textOf(v: unknown): string {
  if (typeof v === 'string') {
    // Read back as a --set value is (never the yaml library's parse(), which can print warnings).
    const back = parseOverrideValue(v);
    return back === v && !v.includes(',') ? v : JSON.stringify(v);
  }
  return typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
}

/**
 * Reads a grid file (`--grid-file`): a YAML mapping from scenario paths to their values, each
 * a list of values (`vms[0].pcpus: [[0, 1], [2, 3]]`) or a string in the command line's syntax
 * (`vms[0].vcpus: 2..32*2`, `hypervisor.backend: trap,pv`). Axes in file order, first slowest.
 */
export function readGridFile(file: string, maxBytes?: number): Axis[] {
  const expected = 'a mapping of scenario paths to their values, e.g. "vms[0].vcpus: [2, 4, 8]"';
  // Read as a scenario file is, with its guards (size, syntax, nesting, aliases, tags); values
  // come from the document's plain value, so an alias in a list is the value its anchor has.
  const { doc, locations, value: plain } = readYamlMapping(file, maxBytes, { shown: `--grid-file ${file}`, expected, kind: 'a grid file' });
  const at = (n: Node | null | undefined, fallback = 0): string => locations.locateNode(n, fallback);
  if (!isMap(doc.contents) || doc.contents.items.length === 0) {
    throw new ScenarioError(`${at(doc.contents as Node | null)}: expected ${expected}`);
  }
  const axes: Axis[] = [];
  for (const pair of doc.contents.items) {
    const keyNode = pair.key as Node;
    const path = isScalar(keyNode) ? String(keyNode.value) : '';
    const where = at(keyNode);
    checkAxisPath(path, `${where}: ${path}`);
    const node = pair.value as Node | null;
    const values: AxisValue[] = [];
    const list = plain[path];
    if (isSeq(node) && Array.isArray(list)) {
      (node.items as Node[]).forEach((item, i) => {
        const value: unknown = list[i] ?? null;
        values.push({ text: textOf(value), value, origin: at(item) });
      });
    } else if (isScalar(node) && typeof node.value === 'string') {
      for (const piece of splitTopLevel(node.value)) {
        if (piece === '') throw new ScenarioError(`${at(node)}: ${path}: an empty value (two commas, or one at an end)`);
        for (const t of expandRange(piece, `${at(node)}: ${path}`) ?? [piece]) values.push({ text: t, value: parseOverrideValue(t), origin: at(node) });
      }
    } else if (isScalar(node) && node.value !== null) {
      values.push({ text: textOf(node.value), value: node.value, origin: at(node) });
    }
    if (values.length === 0) throw new ScenarioError(`${where}: ${path}: expected a list of values, e.g. [2, 4, 8], or a range such as 2..32*2`);
    checkDistinct(values, `${where}: ${path}`);
    axes.push({ path, values, shown: `${where}: ${path}` });
  }
  return axes;
}

/**
 * Refuses axes that would overwrite each other: a path given twice (or one inside another),
 * and an axis over a path a `--set` also gives (the axis would silently replace it).
 */
export function checkAxesDistinct(axes: readonly Axis[], sets: readonly Override[], flag: string): void {
  const within = (outer: string, inner: string): boolean => {
    const o = pathSegments(outer);
    const n = pathSegments(inner);
    return o.length <= n.length && o.every((x, i) => x === n[i]);
  };
  axes.forEach((a, i) => {
    for (const b of axes.slice(0, i)) {
      if (within(a.path, b.path) || within(b.path, a.path)) {
        const same = pathString(pathSegments(a.path)) === pathString(pathSegments(b.path));
        const first = b.shown ?? `${flag} ${b.path}`;
        throw new ScenarioError(`${a.shown ?? `${flag} ${a.path}`}: ${same ? `${a.path} is an axis already (${first})` : `${a.path} overlaps the axis ${b.path} (${first})`}: give each key once, with all its values`);
      }
    }
    for (const s of sets) {
      if (within(a.path, s.path)) throw new ScenarioError(`${a.shown ?? `${flag} ${a.path}`}: ${s.origin} sets ${s.path}, which every point of this axis would replace: drop one of them`);
    }
  });
}

/** The override each value of a point puts into the scenario. */
export function pointOverrides(axes: readonly Axis[], point: readonly number[]): Override[] {
  return axes.map((a, i) => {
    const v = a.values[point[i]!]!;
    return { path: a.path, value: v.value, origin: v.origin };
  });
}
