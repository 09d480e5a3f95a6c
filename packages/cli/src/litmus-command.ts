import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckResult, Execution, LitmusTest } from '@ipilab/ordering';
import { ExitCode, type Io } from './commands';
import { EXIT } from './failure';
import { UsageError } from './usage-error';

type Ordering = typeof import('@ipilab/ordering');
const ordering = (): Ordering => require('@ipilab/ordering') as Ordering;

export interface LitmusFlags {
  readonly trace?: boolean;
  /** --sample [n]: true for the default count, or the count as given. */
  readonly sample?: boolean | string;
  readonly seed?: string;
  readonly judge?: boolean;
  readonly json?: boolean;
  readonly time?: boolean;
  readonly maxCandidates?: string;
}

function positiveInt(flag: string, raw: string | undefined, dflt: number): number {
  if (raw === undefined) return dflt;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) throw new UsageError(`${flag}: expected a positive whole number, got ${JSON.stringify(raw)}`);
  return Number(raw);
}

/** The .litmus files a path names: itself, or every one under a directory (recursively, in name order). */
export function litmusFiles(path: string): string[] {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`${path}: no such file or directory`);
  }
  if (!st.isDirectory()) return [path];
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const p = join(dir, name);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else if (name.endsWith('.litmus')) out.push(p);
    }
  };
  walk(path);
  if (out.length === 0) throw new UsageError(`${path}: no .litmus files in this directory`);
  return out;
}

interface Checked {
  readonly file: string;
  readonly test: LitmusTest;
  readonly result: CheckResult;
  readonly sample?: { samples: number; asked: number; seed: number; found: boolean };
  readonly time: number;
}

/**
 * `ipilab litmus <file|dir>...`: each test checked against the LKMM (enumerated, or sampled with
 * --sample), printed as herd7 prints it (docs/ordering.md). A file that does not parse is one
 * line on stderr and exit 2 once the others are done; a test too large is one line and exit 1;
 * --judge mismatches exit 1.
 */
export function litmusCommand(paths: readonly string[], flags: LitmusFlags, io: Io): void {
  const o = ordering();
  const maxCandidates = positiveInt('--max-candidates', flags.maxCandidates, o.DEFAULT_MAX_CANDIDATES);
  const samples = flags.sample === undefined || flags.sample === false ? undefined : flags.sample === true ? o.DEFAULT_SAMPLES : positiveInt('--sample', flags.sample, o.DEFAULT_SAMPLES);
  const seed = flags.seed === undefined ? o.DEFAULT_SAMPLE_SEED : Number.isSafeInteger(Number(flags.seed)) && /^-?\d+$/.test(flags.seed) ? Number(flags.seed) : (() => {
    throw new UsageError(`--seed: expected a whole number, got ${JSON.stringify(flags.seed)}`);
  })();
  if (flags.seed !== undefined && samples === undefined) throw new UsageError('--seed: only with --sample (enumeration has no randomness)');
  const files = paths.flatMap(litmusFiles);
  const input = require('@ipilab/scenario') as Pick<typeof import('@ipilab/scenario'), 'readInputText' | 'InputTooLarge' | 'DEFAULT_MAX_INPUT_BYTES'>;
  const maxBytes = io.maxInputBytes ?? input.DEFAULT_MAX_INPUT_BYTES;
  let code: number = EXIT.ok;
  const worse = (c: number): void => {
    // A parse error (2) outranks a check that could not be done or a mismatch (1).
    if (c === EXIT.usage || code === EXIT.ok) code = c;
  };
  const json: unknown[] = [];
  let first = true;
  for (const file of files) {
    let text: string;
    try {
      // The scenario files' guarded reader: a size cap (--max-input-size), and a pipe or a device
      // such as /dev/zero is read only up to it.
      text = input.readInputText(file, maxBytes);
    } catch (e) {
      io.err.write(`${file}: ${e instanceof input.InputTooLarge ? e.message : `cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`}\n`);
      worse(EXIT.usage);
      continue;
    }
    let test: LitmusTest;
    try {
      test = o.parseLitmus(text, file);
    } catch (e) {
      if (e instanceof o.LitmusSyntaxError) {
        io.err.write(`${e.message}\n`);
        worse(EXIT.usage);
        continue;
      }
      throw e;
    }
    let checked: Checked;
    const started = process.hrtime.bigint();
    try {
      if (samples !== undefined) {
        const s = o.sampleLitmus(test, { samples, seed });
        checked = { file, test, result: sampledResult(test, s), sample: { samples: s.samples, asked: s.asked, seed: s.seed, found: s.witness !== undefined }, time: 0 };
      } else checked = { file, test, result: o.checkLitmus(test, { maxCandidates }), time: 0 };
    } catch (e) {
      if (e instanceof o.LitmusLimitError || e instanceof o.LitmusRuntimeError) {
        io.err.write(`${file}: ${test.name}: ${e.message}\n`);
        worse(EXIT.runError);
        continue;
      }
      throw e;
    }
    const time = Number(process.hrtime.bigint() - started) / 1e9;
    const r = checked.result;
    const mismatch = flags.judge === true && test.expected !== undefined && test.expected !== r.observation;
    if (mismatch) worse(EXIT.runError);
    if (flags.json === true) {
      json.push(jsonOf(o, { ...checked, time }, flags));
      continue;
    }
    let block = '';
    if (checked.sample !== undefined) block += `Sample ${test.name} seed ${checked.sample.seed}: ${checked.sample.found ? `witness found after ${checked.sample.samples} of ${checked.sample.asked} samples (shrunk)` : `no witness in ${checked.sample.samples} samples`}\n`;
    block += o.herdText(r, flags.time === true ? time : undefined);
    if (flags.trace === true) block += r.witness === undefined ? `Trace ${test.name}: no allowed execution satisfies ${o.propText(test.condition.prop)}\n` : o.traceText(test, r);
    if (flags.judge === true) {
      block += test.expected === undefined ? `Judge ${test.name} no Result line\n` : mismatch ? `Judge ${test.name} MISMATCH: expected ${test.expected}, got ${r.observation}\n` : `Judge ${test.name} ok\n`;
    }
    io.out(`${first ? '' : '\n'}${block}`);
    first = false;
  }
  if (flags.json === true) io.out(`${JSON.stringify({ tests: json }, null, 2)}\n`);
  if (code !== EXIT.ok) throw new ExitCode(code);
}

/** The explorer's answer in CheckResult's shape: its states are the sampled witness's, its counts the samples'. */
function sampledResult(test: LitmusTest, s: import('@ipilab/ordering').SampleResult): CheckResult {
  const positive = s.witness === undefined ? 0 : 1;
  const negative = s.allowed - positive;
  const q = test.condition.quantifier;
  return {
    test,
    observed: s.observed,
    states: s.witness === undefined ? [] : [{ values: s.witness.state, executions: 1, satisfies: true }],
    positive,
    negative: Math.max(0, negative),
    ok: q === 'exists' ? positive > 0 : q === 'not-exists' ? positive === 0 : false,
    observation: positive === 0 ? 'Never' : 'Sometimes',
    witness: s.witness,
    stats: { pathCombinations: 0, candidates: s.samples, allowed: s.allowed, rejected: { coherence: s.rejected.coherence, atomic: s.rejected.atomic, 'happens-before': s.rejected['happens-before'], propagation: s.rejected.propagation } },
  };
}

function jsonOf(o: Ordering, c: Checked, flags: LitmusFlags): unknown {
  const r = c.result;
  const stateOf = (values: readonly (number | string)[]): Record<string, number | string> => Object.fromEntries(r.observed.map((l, i) => [l.kind === 'reg' ? `${l.thread}:${l.name}` : l.name, typeof values[i] === 'number' ? values[i]! : String(values[i]).slice(1)]));
  return {
    name: c.test.name,
    file: c.file,
    kind: o.kindOf(c.test.condition),
    condition: o.conditionText(c.test.condition),
    states: r.states.map((s) => ({ ...stateOf(s.values as (number | string)[]), executions: s.executions })),
    positive: r.positive,
    negative: r.negative,
    ok: r.ok,
    observation: r.observation,
    expected: c.test.expected ?? null,
    ...(c.sample === undefined ? { candidates: r.stats.candidates, rejected: r.stats.rejected } : { sample: c.sample }),
    ...(flags.time === true ? { time: c.time } : {}),
    ...(flags.trace === true && r.witness !== undefined ? { witness: witnessJson(r.witness) } : {}),
  };
}

function witnessJson(x: Execution): unknown {
  return x.events.map((e) => ({
    id: e.id,
    thread: e.thread,
    kind: e.kind,
    ...(e.loc === undefined ? {} : { loc: e.loc, value: typeof e.value === 'number' ? e.value : e.value.slice(1) }),
    text: e.text,
    ...(e.kind === 'R' ? { readsFrom: x.rf[e.id] } : {}),
  }));
}
