import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { readScenarioFile } from '@ipilab/scenario';

/**
 * Inputs a hostile or careless user could give the loader and the CLI: arbitrary YAML/JSON text
 * and mutations of every valid example scenario. Small on purpose: a case that hangs shows as the
 * test's timeout, and a few hundred cases fit in CI's time.
 */

const ROOT = join(__dirname, '..', '..', '..');

/** Every valid scenario the project ships: the examples and the scenario tests' fixtures. */
export function validScenarios(): { name: string; text: string; value: Record<string, unknown> }[] {
  const files = [
    ...readdirSync(join(ROOT, 'examples', 'scenarios')).filter((f) => f.endsWith('.yaml')).map((f) => join(ROOT, 'examples', 'scenarios', f)),
    join(ROOT, 'packages', 'scenario', 'test', 'fixtures', 'small.yaml'),
  ];
  return files.map((f) => ({ name: f, text: readFileSync(f, 'utf8'), value: readScenarioFile(f) as Record<string, unknown> }));
}

/** One file's content: text, or raw bytes (not necessarily UTF-8). */
export type Doc = string | Uint8Array;

// ---------------------------------------------------------------------------------------------
// (a) arbitrary YAML/JSON text

const nastyScalars = [
  '1e400', '-1e400', '99999999999999999999999', '0x7fffffffffffffff', '1e-400', '-0', '0.5', '-1', '0',
  '.nan', '.NaN', '.inf', '-.inf', 'NaN', '"NaN"', 'Infinity', '1_000', '0o17', '+12', '0b101', '1:30',
  '~', 'null', 'yes', 'no', 'on', '""', "''", '[]', '{}', '2001-12-14', '!!binary aGVsbG8=', '!!set {a, b}',
  '!!omap [a: 1, b: 2]', '!!timestamp 2001-12-14', '!!js/function "function(){}"', '!custom 1', '!!str 5',
  '!!int "x"', '!!float abc', '*nope', '&a 1', '"\\u0000"', '"\\ud800"', '10us', '1e9s', '-5ms', '0ns', 'abc',
];
const scalarText = fc.constantFrom(...nastyScalars);

const keys = [
  'name', 'host', 'preset', 'hypervisor', 'backend', 'vms', 'vcpus', 'count', 'workload', 'kind', 'run', 'duration',
  'seed', 'replications', 'plugins', 'calibration', 'overrides', '__proto__', 'constructor', 'prototype', 'toString',
  '', ' ', 'vms ', 'VMS', 'hasOwnProperty', '<<', '?', '-', '#', '"', "'",
  // Keys are echoed in problem lines: characters that would break a line or redraw a terminal.
  'a\nb', 'x\ry', 'tab\tkey', 'nul\u0000', 'esc\u001b[2J', 'ls\u2028', 'nel\u0085',
];
const keyText = fc.constantFrom(...keys);

/** Bits of YAML syntax that parsers find hard, to splice into a document. */
const fragments = fc.oneof(
  scalarText,
  keyText.map((k) => `${k}: `),
  fc.constantFrom('\t', '\uFEFF', '\r\n', '\r', '\n', '\u2028', '\u0000', '\uFFFD', '---\n', '...\n', '%YAML 1.2\n', '%TAG ! tag:x,2000:\n',
    '&a ', '*a', '<<: *a\n', '? ', ': ', '- ', '[', ']', '{', '}', ',', '|', '>', '|-\n', '"', "'", '#', '!', '!!map ', '@', '`'),
);

/** A document nested `depth` levels deep, in one of YAML's ways of nesting. */
function nested(depth: number, style: number): string {
  switch (style % 5) {
    case 0:
      return `${'['.repeat(depth)}${']'.repeat(depth)}`;
    case 1:
      return `${'{a: '.repeat(depth)}1${'}'.repeat(depth)}`;
    case 2:
      return `vms: ${'['.repeat(depth)}`; // never closed
    case 3: {
      // Block style: the text grows with depth squared, so it goes less deep.
      const d = Math.min(depth, 300);
      return Array.from({ length: d }, (_, i) => `${'  '.repeat(i)}k${i}:`).join('\n') + ' 1\n';
    }
    default: {
      const d = Math.min(depth, 300);
      return Array.from({ length: d }, (_, i) => `${'  '.repeat(i)}-`).join('\n') + ' 1\n';
    }
  }
}

/** Alias shapes: plain reuse, merge keys, undefined or self-referring anchors, a small "billion laughs". */
const aliasDocs = fc.constantFrom(
  'a: &a {x: 1}\nb: *a\n',
  'base: &b {vcpus: 2}\nvms: [{<<: *b, name: x}]\n',
  'a: *undefined\n',
  'a: &a [*a]\n',
  'a: &a {b: *a}\n',
  'host: &h {preset: small-1s-8t}\nhypervisor: *h\n',
  'a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n',
  '&a a: 1\n*a : 2\n',
  'a: &a 1\na: *a\n',
  'vms: &v\n  - name: a\n    vcpus: 1\n    workload: {kind: compute}\nrun: {duration: 1ms}\nextra: *v\n',
);

/** A mapping of scenario-like keys to small values (deep into the checker), as YAML or JSON. */
const scenarioLike: fc.Arbitrary<string> = fc
  .tuple(
    fc.dictionary(keyText, fc.jsonValue({ maxDepth: 3 }), { maxKeys: 6 }),
    fc.boolean(),
  )
  .map(([v, json]) => (json ? JSON.stringify(v) : toYaml(v)));

export const arbitraryText: fc.Arbitrary<Doc> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: fc.constantFrom(...'{}[]:,-?&*!|>\'"#%@` \t\n\r\\abcx01.'.split('')), maxLength: 200 }),
  fc.json({ maxDepth: 4 }),
  fc.jsonValue({ maxDepth: 4 }).map(toYaml),
  scenarioLike,
  fc.uint8Array({ maxLength: 300 }),
  fc.tuple(fc.integer({ min: 1, max: 20_000 }), fc.nat()).map(([d, s]) => nested(d, s)),
  fc.array(fragments, { maxLength: 40 }).map((a) => a.join('')),
  aliasDocs,
  fc.tuple(keyText, scalarText).map(([k, v]) => `${k}: ${v}\n`),
  fc.tuple(fc.integer({ min: 1_000, max: 200_000 }), fc.constantFrom('x', 'é', '\t', ' ', '[')).map(([n, c]) => `name: ${c.repeat(n)}\n`),
);

// ---------------------------------------------------------------------------------------------
// (b) mutations of valid scenarios

type Path = (string | number)[];

/** Every path to a value inside `v` (the root excluded), in document order. */
function pathsOf(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  if (Array.isArray(v)) v.forEach((x, i) => (out.push([...at, i]), pathsOf(x, [...at, i], out)));
  else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) out.push([...at, k]), pathsOf((v as Record<string, unknown>)[k], [...at, k], out);
  return out;
}

function parentOf(root: unknown, p: Path): Record<string | number, unknown> {
  let n = root as Record<string | number, unknown>;
  for (const s of p.slice(0, -1)) n = n[s] as Record<string | number, unknown>;
  return n;
}

/** Sets an own property, `__proto__` included (plain assignment would change the prototype). */
function put(o: Record<string | number, unknown>, k: string | number, v: unknown): void {
  Object.defineProperty(o, k, { value: v, writable: true, enumerable: true, configurable: true });
}

/** A near-miss of a key: one letter dropped, doubled, swapped with the next, or its case changed; or a trailing space. */
function nearMiss(k: string, how: number): string {
  const i = k.length === 0 ? 0 : how % k.length;
  switch (Math.floor(how / 7) % 5) {
    case 0:
      return k.slice(0, i) + k.slice(i + 1);
    case 1:
      return k.slice(0, i) + k[i] + k.slice(i);
    case 2:
      return i + 1 < k.length ? k.slice(0, i) + k[i + 1] + k[i] + k.slice(i + 2) : `${k}s`;
    case 3:
      return k === k.toUpperCase() ? k.toLowerCase() : k.toUpperCase();
    default:
      return `${k} `;
  }
}

/** Values of every type, and numbers at and past every bound. */
const otherValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    -1, 0, 0.5, 1.5, -0.25, 1e-9, 2 ** 31, 2 ** 53 + 2, 1e21, 1e308, -1e308, Number.MAX_SAFE_INTEGER,
    Infinity, -Infinity, NaN, true, false, null, '', ' ', 'NaN', '1e400', '-1', '0x10', '10', '1ms', '-1ms', '1e9s',
    'compute', 'pv', '__proto__', [], {}, [1, 2], [[]], { kind: 'compute' }, { a: { b: { c: 1 } } },
  ),
  fc.string({ maxLength: 20 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 2 }),
);

export interface Mutation {
  readonly op: 'delete' | 'rename' | 'replace' | 'number' | 'swap' | 'duplicate-vm' | 'add-key';
  readonly at: number;
  readonly how: number;
  readonly value: unknown;
}

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('delete', 'rename', 'replace', 'number', 'swap', 'duplicate-vm', 'add-key'),
  at: fc.nat(),
  how: fc.nat({ max: 1_000 }),
  value: otherValue,
});

/** Applies a mutation to `root` in place (a path is picked among those that exist). */
export function mutate(root: Record<string, unknown>, m: Mutation): void {
  const paths = pathsOf(root);
  if (paths.length === 0) return;
  const p = paths[m.at % paths.length]!;
  const parent = parentOf(root, p);
  const k = p[p.length - 1]!;
  const old = parent[k];
  switch (m.op) {
    case 'delete':
      if (Array.isArray(parent)) parent.splice(k as number, 1);
      else delete parent[k];
      return;
    case 'rename':
      if (Array.isArray(parent)) return void parent.splice(k as number, 1);
      delete parent[k];
      return put(parent, nearMiss(String(k), m.how), old);
    case 'replace':
      return put(parent, k, m.value);
    case 'number': {
      const n = typeof old === 'number' ? old : 1;
      const tweaks = [-n, 0, n * 1e9, n + 0.5, -1, n * 2 ** 40, Number.MAX_VALUE, Number.MIN_VALUE, n - 1, 1e6];
      return put(parent, k, tweaks[m.how % tweaks.length]);
    }
    case 'swap':
      return put(parent, k, Array.isArray(old) ? old[0] : [old]);
    case 'duplicate-vm': {
      const vms = root['vms'];
      if (!Array.isArray(vms) || vms.length === 0) return;
      const copies = 1 + (m.how % 3);
      for (let i = 0; i < copies; i++) vms.push(structuredClone(vms[m.at % vms.length]));
      return;
    }
    case 'add-key': {
      // Into the mapping picked, else the one holding the value picked, else the scenario itself.
      const into = old !== null && typeof old === 'object' && !Array.isArray(old) ? old : Array.isArray(parent) ? root : parent;
      return put(into as Record<string, unknown>, keys[m.how % keys.length]!, m.value);
    }
  }
}

/** `--set` paths: real ones, and weird ones (prototype keys, empty segments, indexes out of range). */
export function setPathArb(base: Record<string, unknown>): fc.Arbitrary<string> {
  const real = pathsOf(base).map(pathText);
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...real) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        'vms[99].vcpus', 'vms[0][0]', 'vms.0.vcpus', 'vms[-1].vcpus', 'vms[1e3].vcpus', 'vms[00].vcpus', 'run.x.y.z',
        'run.duration.ns', 'host', 'a[0]b', 'vms[', '[0]', 'hypervisor.backend ', ' hypervisor.backend', 'vms[0].workload.kind.x',
        'vms[9007199254740993].vcpus', `${'a.'.repeat(200)}b`, 'run.metrics[5]', 'x=y',
        '__proto__.x', 'constructor.prototype.x', 'vms[0].__proto__.vcpus', 'vms..vcpus', '.run.seed', 'run.', 'prototype', 'run.__proto__',
      ),
    },
    {
      // Paths built from segments, prototype keys and empty ones among them.
      weight: 1,
      arbitrary: fc
        .array(fc.oneof(fc.constantFrom(...keys, 'vms[0]', 'vms[1]', '[0]', '[99]', 'workload', 'x'), fc.string({ maxLength: 4 })), { minLength: 1, maxLength: 5 })
        .map((segs) => segs.join('.')),
    },
  );
}

/** A `--set` value as a user types it. */
export const setValueText = fc.oneof(scalarText, fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'));

function pathText(p: Path): string {
  return p.map((s, i) => (typeof s === 'number' ? `[${s}]` : i === 0 ? s : `.${s}`)).join('');
}

/** A block-style YAML rendering of a plain value (keys and strings quoted as JSON, which YAML reads). */
export function toYaml(v: unknown, indent = ''): string {
  const scalar = (x: unknown): string =>
    typeof x === 'number' ? (Number.isNaN(x) ? '.nan' : x === Infinity ? '.inf' : x === -Infinity ? '-.inf' : String(x)) : x === undefined ? 'null' : JSON.stringify(x);
  if (Array.isArray(v)) return v.length === 0 ? '[]\n' : v.map((x) => `${indent}-${block(x, `${indent}  `)}`).join('');
  if (v !== null && typeof v === 'object') {
    const ks = Object.keys(v);
    return ks.length === 0 ? '{}\n' : ks.map((k) => `${indent}${JSON.stringify(k)}:${block((v as Record<string, unknown>)[k], `${indent}  `)}`).join('');
  }
  return `${scalar(v)}\n`;

  function block(x: unknown, inner: string): string {
    if (x !== null && typeof x === 'object' && Object.keys(x).length > 0) return `\n${toYaml(x, inner)}`;
    return ` ${toYaml(x, inner)}`;
  }
}

/** A text-level mutation of a valid file: a fragment spliced in, a range cut out, or a line doubled. */
export const textEdit = fc.record({ at: fc.nat(), len: fc.nat({ max: 40 }), kind: fc.nat({ max: 2 }), fragment: fragments });

export function editText(text: string, e: { at: number; len: number; kind: number; fragment: string }): string {
  const i = e.at % (text.length + 1);
  if (e.kind === 0) return text.slice(0, i) + e.fragment + text.slice(i);
  if (e.kind === 1) return text.slice(0, i) + text.slice(i + e.len);
  const lines = text.split('\n');
  const l = e.at % lines.length;
  lines.splice(l, 0, lines[l]!);
  return lines.join('\n');
}

/** Up to three mutations; none now and then, so a share of the runs gets to the model. */
export const mutations = fc.array(mutation, { maxLength: 3 });

/** `--metric` arguments: the documented forms and near misses of them. */
export const metricText = fc.constantFrom(
  'default', 'throughput', 'p99:shootdown', 'p99.9:ipiSendToHandler', 'exits/s', 'share:guest', 'churn=throughput', 'victim=p50:shootdown',
  'p0:shootdown', 'p100.1:shootdown', 'p-1:x', 'p99:', 'share:', 'share:nosuch', '=', '', 'nosuch=throughput', '__proto__=throughput', 'a=b=c', 'throughputs', 'P99:shootdown',
);
