import type { Provenance } from '@ipilab/scenario';
import { compareCommand, runCommand, sweepCommand, traceCommand, type Io } from './commands';
import { UsageError } from './usage-error';
import { toolVersion } from './version';

/** `rerun --check` found a difference (it was reported). */
export class NotReproduced extends Error {}

export interface RerunFlags {
  /** Say whether the rerun reproduces the file instead of printing it. */
  readonly check?: boolean;
  readonly out?: string;
  readonly html?: string;
  /** A trace's `--max-size`. */
  readonly maxSize?: string;
}

/** The times in a provenance block: the only part of an output a rerun may change. */
const TIMES = ['startedAt', 'wallSeconds'] as const;

/**
 * `ipilab rerun <result.json>`: runs again what made an output, from the output alone — the
 * scenario as run, the overrides, seeds and replications recorded in its `meta` — through the
 * same code path as the original command, and prints the same JSON: identical byte for byte
 * apart from `meta.startedAt` and `meta.wallSeconds` when the ipilab, Node and platform are the
 * same. The scenario file need not exist any more (plugins must, relative to `meta.scenarioDir`).
 */
export async function rerunCommand(file: string, o: RerunFlags, io: Io): Promise<void> {
  const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
  const doc = readResult(file, s, io.maxInputBytes ?? s.DEFAULT_MAX_RESULT_BYTES);
  const parsed = s.provenanceSchema.safeParse(doc['meta']);
  if (!parsed.success) throw new UsageError(`${file}: ${metaIssue(parsed.error.issues[0]!, doc['meta'])}`);
  const m = parsed.data;
  const now = toolVersion();
  if (m.ipilab.version !== now.version || (m.ipilab.commit !== undefined && now.commit !== undefined && m.ipilab.commit !== now.commit) || m.ipilab.modified === true || now.modified === true) {
    const v = (x: Provenance['ipilab']): string => `ipilab ${x.version}${x.commit === undefined ? '' : ` (commit ${x.commit.slice(0, 12)}${x.modified === true ? ', modified' : ''})`}`;
    io.err.write(`ipilab: note: ${file} was made by ${v(m.ipilab)}; this is ${v(now)}: results can differ if the code did\n`);
  }
  if (o.check === true && Object.keys(doc).every((k) => k === 'meta')) {
    throw new UsageError(`${file}: has no results to check against (a CSV's .meta.json); rerun it without --check, or check the JSON output`);
  }
  let printed = '';
  const run: Io = { ...io, out: o.check === true ? (x) => (printed += x) : io.out, recorded: true };
  const source = { file: m.scenarioFile, dir: m.scenarioDir, raw: m.scenario, shown: `${file}: meta.scenario` };
  const set = m.overrides.set;
  // --metric and --plugin are recorded only (the scenario has them, as run.metrics and plugins), so the rerun's meta says the same.
  const metric = { ...(m.overrides.metric === undefined ? {} : { metric: m.overrides.metric }), ...(m.overrides.plugin === undefined ? {} : { plugin: m.overrides.plugin }) };
  const where = { ...(o.out === undefined ? {} : { out: o.out }), ...(o.html === undefined ? {} : { html: o.html }) };
  switch (m.command) {
    case 'run':
      await runCommand(source, { set, ...metric, json: true, ...where }, run);
      break;
    case 'compare':
      if (m.overrides.vary === undefined) throw new UsageError(`${file}: meta.overrides.vary: missing; expected the --vary of the compare that made it`);
      await compareCommand(source, { set, ...metric, vary: [m.overrides.vary], json: true, ...where }, run);
      break;
    case 'sweep':
      if (m.overrides.grid === undefined) throw new UsageError(`${file}: meta.overrides.grid: missing; expected the --grid axes of the sweep that made it`);
      await sweepCommand(
        source,
        {
          set,
          ...metric,
          grid: m.overrides.grid,
          ...(m.overrides.gridFile === undefined ? {} : { gridFile: m.overrides.gridFile, gridFileAxes: m.overrides.gridFileAxes ?? [] }),
          json: true,
          ...(m.overrides.workers === undefined ? {} : { workers: String(m.overrides.workers) }),
          ...where,
        },
        run,
      );
      break;
    case 'trace':
      if (o.html !== undefined) throw new UsageError('--html: a trace has no HTML report; expected rerun of a run, compare or sweep output');
      traceCommand(source, { set, ...metric, ...(m.overrides.from === undefined ? {} : { from: m.overrides.from }), ...(m.overrides.to === undefined ? {} : { to: m.overrides.to }), ...(o.out === undefined ? {} : { out: o.out }), ...(o.maxSize === undefined ? {} : { maxSize: o.maxSize }) }, run);
      break;
  }
  if (o.check !== true) return;
  const again = JSON.parse(printed) as Record<string, unknown>;
  const diff = firstDifference(withoutTimes(doc), withoutTimes(again));
  if (diff !== undefined) {
    io.err.write(`ipilab: ${file}: not reproduced: ${diff}\n`);
    throw new NotReproduced();
  }
  io.out(`${file}: reproduced: ${m.command} of ${m.scenarioFile}, identical apart from the times\n`);
}

/** The output file (at most `maxBytes`) as JSON with a `meta` block, or a UsageError naming what is wrong. */
function readResult(file: string, s: typeof import('@ipilab/scenario'), maxBytes: number): Record<string, unknown> {
  let text: string;
  try {
    text = s.readInputText(file, maxBytes);
  } catch (e) {
    if (e instanceof s.InputTooLarge) throw new UsageError(`${file}: ${e.message}`);
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, expected a JSON output of ipilab' : `cannot be read (${code ?? String(e)})`}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not JSON (${(e as Error).message.replace(/\s+/g, ' ')}); expected the JSON output of ipilab run, compare, sweep or trace`);
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new UsageError(`${file}: expected a JSON object with a meta block, got ${Array.isArray(doc) ? 'a list' : JSON.stringify(doc)}`);
  if (!('meta' in doc)) throw new UsageError(`${file}: meta: missing; expected the JSON output of ipilab run, compare, sweep or trace --json, which carries it (made by an ipilab with --version)`);
  return doc as Record<string, unknown>;
}

/** What this file reads of a zod issue (the CLI does not depend on zod itself). */
interface ZodIssueLike {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly message: string;
  readonly expected?: string;
  readonly keys?: readonly string[];
}

/** `meta.seeds: expected array, got "seven"`: the first thing wrong with a provenance block. */
function metaIssue(issue: ZodIssueLike, meta: unknown): string {
  const at = `meta${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
  let got: unknown = meta;
  for (const p of issue.path) got = got !== null && typeof got === 'object' ? (got as Record<PropertyKey, unknown>)[p] : undefined;
  if (issue.code === 'invalid_type') return `${at}: ${got === undefined ? `missing; expected ${issue.expected}` : `expected ${issue.expected}, got ${JSON.stringify(got)}`}`;
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys ?? [];
    return `${at}: unknown key${keys.length > 1 ? 's' : ''} ${keys.join(', ')}; expected an output of this ipilab or an older one`;
  }
  return `${at}: ${issue.message}, got ${JSON.stringify(got)}`;
}

/** A sweep's worker heaps are measured too: they differ between two runs of the same sweep. */
const MEASURED = ['workerHeap'] as const;

function withoutTimes(doc: Record<string, unknown>): Record<string, unknown> {
  const m = { ...(doc['meta'] as Record<string, unknown>) };
  for (const k of TIMES) delete m[k];
  const rest = { ...doc };
  for (const k of MEASURED) delete rest[k];
  return { ...rest, meta: m };
}

/** The first path where two JSON values differ, with both values; undefined when equal. */
export function firstDifference(a: unknown, b: unknown, path = ''): string | undefined {
  if (a === b) return undefined;
  const show = (x: unknown): string => (x === undefined ? 'absent' : JSON.stringify(x).slice(0, 80));
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(a) !== Array.isArray(b)) return `${path || '(the document)'}: ${show(a)} -> ${show(b)}`;
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
  for (const k of keys) {
    const d = firstDifference((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], Array.isArray(a) ? `${path}[${k}]` : path === '' ? k : `${path}.${k}`);
    if (d !== undefined) return d;
  }
  return undefined;
}
