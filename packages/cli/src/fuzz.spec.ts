import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { loadScenario, ScenarioError } from '@ipilab/scenario';
import { arbitraryText, editText, metricText, mutate, mutations, setPathArb, setValueText, textEdit, toYaml, validScenarios, type Doc } from '../test/fuzz-inputs';
import { metricOverrides } from './commands';
import { EXIT, main } from './main';

/**
 * Fuzzing as a test (issue 18): whatever document or `--set` a user gives, the loader and the CLI
 * either accept it or refuse it with one line per problem and exit 2 — never another exit code,
 * a stack trace, an "internal error", a prototype written to, or a hang. fast-check runs with the
 * project's fixed seed (packages/testing/src/jest-setup.ts); a failure prints the seed and the
 * smallest document found. FC_NUM_RUNS=2000 fuzzes longer (here a floor of FUZZ_RUNS cases).
 */

const FUZZ_RUNS = 250;
/** Cases run through the built CLI as a child process, each with a time limit: what proves "never a hang". */
const CHILD_RUNS = 8;
const CHILD_TIMEOUT_MS = 10_000;
const DIST_MAIN = join(__dirname, '..', 'dist', 'main.js');

const scenarios = validScenarios();
let dir: string;
let n = 0;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipilab-fuzz-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Case {
  readonly doc: Doc;
  readonly ext: 'yaml' | 'json';
  readonly sets: readonly string[];
  /** `--metric` arguments. */
  readonly metrics: readonly string[];
  readonly command: 'validate' | 'run';
}

/** (a) any text or bytes, validated. */
const textCase: fc.Arbitrary<Case> = fc.record({
  doc: arbitraryText,
  ext: fc.constantFrom('yaml' as const, 'json' as const),
  sets: fc.constant([]),
  metrics: fc.constant([]),
  command: fc.constant('validate' as const),
});

/** (b) a valid scenario with up to three mutations, written as YAML, JSON or its own text edited, with `--set`s; a fifth of them run. */
const mutatedCase: fc.Arbitrary<Case> = fc.integer({ min: 0, max: scenarios.length - 1 }).chain((i) => {
  const base = scenarios[i]!;
  return fc
    .record({
      // A quarter as written (only its --set and --metric vary): runs that get past the checks into the model.
      muts: fc.oneof({ weight: 1, arbitrary: fc.constant([]) }, { weight: 3, arbitrary: mutations }),
      // Written out as block YAML or JSON (mutated), or the file's own text with an edit (comments, flow style and all).
      form: fc.constantFrom('yaml', 'yaml', 'json', 'edited-text'),
      edit: textEdit,
      sets: fc.array(fc.tuple(setPathArb(base.value), setValueText).map(([p, v]) => `${p}=${v}`), { maxLength: 2 }),
      metrics: fc.array(metricText, { maxLength: 2 }),
      run: fc.nat({ max: 4 }).map((k) => k === 0),
    })
    .map(({ muts, form, edit, sets, metrics, run }): Case => {
      const v = structuredClone(base.value);
      for (const m of muts) mutate(v, m);
      const doc = form === 'json' ? JSON.stringify(v) : form === 'edited-text' ? editText(base.text, edit) : toYaml(v);
      return { doc, ext: form === 'json' ? 'json' : 'yaml', sets, metrics, command: run ? 'run' : 'validate' };
    });
});

const anyCase = fc.oneof({ weight: 2, arbitrary: textCase }, { weight: 3, arbitrary: mutatedCase });

function write(c: Case): string {
  const file = join(dir, `case-${n++}.${c.ext}`);
  writeFileSync(file, c.doc);
  return file;
}

function argvOf(c: Case, file: string): string[] {
  const sets = [...c.sets.flatMap((s) => ['--set', s]), ...c.metrics.flatMap((m) => ['--metric', m])];
  // A run is cut to a tiny duration so a case stays fast (its own duration may be anything).
  return c.command === 'run' ? ['run', file, ...sets, '--set', 'run.duration=20us', '--set', 'run.replications=1', '--json'] : ['validate', file, ...sets];
}

/**
 * What a user may see: exit 0, or exit 2 with at least one problem; every stderr line is one
 * problem or warning, starting with the file, the `--set` it is about, or `ipilab:` — a second
 * line of a message, a stack frame or an internal error is none of those.
 */
function assertOutcome(code: number, out: string, err: string, file: string, c: Case): void {
  const fail = (why: string): never => {
    throw new Error(`${why}\nexit ${code}\nstderr:\n${err.slice(0, 2_000)}`);
  };
  if (code !== EXIT.ok && code !== EXIT.usage) fail(`exit ${code}, expected 0 or 2`);
  if (err !== '' && !err.endsWith('\n')) fail('stderr does not end with a newline');
  const lines = err === '' ? [] : err.slice(0, -1).split('\n');
  for (const l of lines) {
    if (/^\s+at /.test(l)) fail(`a stack frame on stderr: ${l}`);
    if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(l)) fail(`a control character or line separator in a line (it breaks the line or redraws the terminal): ${JSON.stringify(l.slice(0, 200))}`);
    if (/internal error/.test(l)) fail(`an internal error: ${l}`);
    if (/\b[A-Z][A-Za-z]*(Error|Exception)\b|\[object |undefined is not|Cannot read prop|Maximum call stack/.test(l)) fail(`an internal name: ${l}`);
    if (!(l.startsWith(`${file}:`) || l.startsWith('--set ') || l.startsWith('--metric ') || l.startsWith('ipilab: '))) fail(`a line that is not one problem (it names no file, --set, --metric or ipilab): ${JSON.stringify(l.slice(0, 200))}`);
  }
  // A generated document has a few dozen keys at most: hundreds of lines are one problem said many times.
  if (lines.length > 100) fail(`${lines.length} lines for one small document`);
  const twice = lines.find((l, i) => lines.indexOf(l) !== i);
  if (twice !== undefined) fail(`a line said twice: ${twice.slice(0, 200)}`);
  if (code === EXIT.usage && lines.filter((l) => !l.startsWith('ipilab: warning:')).length === 0) fail('exit 2 without a problem');
  if (code === EXIT.ok && c.command === 'validate' && !out.startsWith(`${file}: valid (`)) fail(`validate said ${JSON.stringify(out)}`);
  if (code === EXIT.ok && c.command === 'run') {
    try {
      JSON.parse(out);
    } catch {
      fail(`run --json printed no JSON document: ${JSON.stringify(out.slice(0, 200))}`);
    }
  }
}

/**
 * A case that hangs in-process stops the test with no counterexample: FUZZ_TRACE=<file> writes
 * each case there before it runs, so the last one written is the one that hung.
 */
function trace(c: Case, file: string): void {
  const to = process.env['FUZZ_TRACE'];
  if (to !== undefined && to !== '') writeFileSync(to, JSON.stringify({ argv: argvOf(c, file), doc: typeof c.doc === 'string' ? c.doc : [...c.doc] }));
}

const protoKeys = (): string => [Object.prototype, Array.prototype, Function.prototype].map((p) => Object.getOwnPropertyNames(p).sort().join(',')).join('|');

/** The loader's own contract: a scenario, or a ScenarioError whose every problem is one line. */
function loaderAccepts(file: string, c: Case): boolean {
  try {
    loadScenario(file, [...c.sets, ...metricOverrides(c.metrics)]);
    return true;
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw new Error(`the loader threw ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}, not a ScenarioError`);
    // An error about an argument or the file as a whole has no problems: its message, which may
    // quote what the user typed as typed, is made one line where it is shown (reportFailure).
    for (const l of e.problems) if (/[\n\r\u2028\u2029]/.test(l) || l === '') throw new Error(`a problem that is not one line: ${JSON.stringify(l)}`);
    if (e.problems.length === 0 && e.message === '') throw new Error('a ScenarioError with no message and no problems');
    return false;
  }
}

describe('fuzzing: any document and any --set end in success or exit 2 with one line per problem', () => {
  it('in-process: the loader and `ipilab validate` / `run` (fast-check, fixed seed)', async () => {
    const before = protoKeys();
    const seen = { ok: 0, refused: 0, runs: 0, ranOk: 0 };
    await fc.assert(
      fc.asyncProperty(anyCase, async (c) => {
        const file = write(c);
        trace(c, file);
        const accepted = loaderAccepts(file, c);
        let out = '';
        let err = '';
        const code = await main(argvOf(c, file), (s) => (out += s), { write: (s: string) => ((err += s), true) });
        assertOutcome(code, out, err, file, c);
        if (c.command === 'validate' && accepted !== (code === EXIT.ok)) throw new Error(`the loader ${accepted ? 'accepted' : 'refused'} it, validate exited ${code}`);
        if (protoKeys() !== before) throw new Error('a prototype was written to');
        // A command releases what it holds (the output writer's signal listeners) when the event loop turns.
        await new Promise((resolve) => setImmediate(resolve));
        seen[code === EXIT.ok ? 'ok' : 'refused']++;
        if (c.command === 'run') seen.runs++;
        if (c.command === 'run' && code === EXIT.ok) seen.ranOk++;
      }),
      { numRuns: Math.max(FUZZ_RUNS, fc.readConfigureGlobal().numRuns ?? 0) },
    );
    if (process.env['FUZZ_COUNTS'] === '1') console.log(seen);
    // The generators reach both sides, and the model: not only syntax errors.
    expect(seen.ok).toBeGreaterThan(5);
    expect(seen.refused).toBeGreaterThan(50);
    expect(seen.runs).toBeGreaterThan(5);
    expect(seen.ranOk).toBeGreaterThan(0);
  }, 120_000);

  it('as a process: `ipilab validate` on a generated file ends within its time limit with exit 0 or 2 (never a hang)', () => {
    fc.assert(
      fc.property(anyCase, (c) => {
        const file = write(c);
        const r = spawnSync(process.execPath, [DIST_MAIN, ...argvOf({ ...c, command: 'validate' }, file)], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
        if (r.error !== undefined || r.signal !== null) throw new Error(`did not end by itself within ${CHILD_TIMEOUT_MS} ms: ${r.error?.message ?? r.signal}`);
        assertOutcome(r.status!, r.stdout, r.stderr, file, { ...c, command: 'validate' });
      }),
      { numRuns: Math.max(CHILD_RUNS, Math.ceil((fc.readConfigureGlobal().numRuns ?? 0) / 20)) },
    );
  }, 180_000);
});

/** Each a case the fuzzing found, kept as an example so it stays fixed whatever the seed. */
describe('found by fuzzing', () => {
  async function validate(text: string): Promise<{ code: number; err: string; file: string }> {
    const file = write({ doc: text, ext: 'yaml', sets: [], metrics: [], command: 'validate' });
    let err = '';
    const code = await main(['validate', file], () => undefined, { write: (s: string) => ((err += s), true) });
    return { code, err, file };
  }

  /** Through the built CLI with a time limit: before its fix, each of these never ended. */
  function validateProcess(text: string, ...sets: string[]): { status: number | null; stderr: string; file: string; timedOut: boolean } {
    const file = write({ doc: text, ext: 'yaml', sets: [], metrics: [], command: 'validate' });
    const r = spawnSync(process.execPath, [DIST_MAIN, 'validate', file, ...sets.flatMap((s) => ['--set', s])], { encoding: 'utf8', timeout: CHILD_TIMEOUT_MS });
    return { status: r.status, stderr: r.stderr, file, timedOut: r.error !== undefined || r.signal !== null };
  }

  it.each(['a: &a {b: *a}\n', 'name: &a [*a]\n', 'vms:\n  - &v\n    name: x\n    workload: {kind: compute, tasks: [*v]}\n'])(
    'a YAML alias inside its own anchor (%j) is refused in one line, exit 2 (it used to never end: every check walked a value without end)',
    (text) => {
      const r = validateProcess(text);
      expect(r.timedOut).toBe(false);
      expect(r.stderr).toBe(`ipilab: ${r.file}: YAML aliases: an alias inside its own anchor (as in a: &a [*a]) makes a value without end; expected each alias after the end of its anchor's value\n`);
      expect(r.status).toBe(EXIT.usage);
    },
  );

  it('a --set value that holds itself (`&a [*a]`) is its text, which the schema refuses: exit 2 (it used to never end)', () => {
    const r = validateProcess(scenarios[scenarios.length - 1]!.text, 'vms[0].name=&a [*a]');
    expect(r.timedOut).toBe(false);
    expect(r.stderr).toBe('--set vms[0].name=&a [*a]: vms[0].name: expected a name of letters, digits, _, . or -, got "&a [*a]"\n');
    expect(r.status).toBe(EXIT.usage);
  });

  it('unclosed brackets (`name: [[[[`) are one line, not one line per bracket (it was as many lines as brackets)', async () => {
    const r = await validate(`name: ${'['.repeat(10)}\n`);
    expect(r.err).toBe(`${r.file}:2:1: YAML syntax error: Flow sequence in block collection must be sufficiently indented and end with a ]\n`);
    expect(r.code).toBe(EXIT.usage);
  });

  it('a document nested thousands deep is too deep to read, in words: exit 2, one line (it was "YAML syntax error: Maximum call stack size exceeded")', async () => {
    const r = await validate(`name: ${'['.repeat(5_000)}${']'.repeat(5_000)}\n`);
    expect(r.err).toMatch(new RegExp(`^${r.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:1:\\d+: YAML: nested too deeply to read \\(lists or mappings hundreds of levels inside one another\\); expected a scenario a few levels deep\n$`));
    expect(r.code).toBe(EXIT.usage);
  });

  it('a --metric on a scenario whose run is not a mapping is one line (it was said twice: --metric makes two overrides)', async () => {
    const file = write({ doc: 'run: 0\n', ext: 'yaml', sets: [], metrics: [], command: 'validate' });
    let err = '';
    const code = await main(['validate', file, '--metric', 'default'], () => undefined, { write: (s: string) => ((err += s), true) });
    expect(err).toBe('--metric default: run: is 0, not a mapping\n');
    expect(code).toBe(EXIT.usage);
  });

  it('a slip that makes every later token a syntax error lists the first ten and how many more (it was 104 lines)', async () => {
    const text = scenarios.find((x) => x.name.endsWith('noisy-neighbour.yaml'))!.text.replace(/^# /, '#<<: *a\n ');
    const r = await validate(text);
    const lines = r.err.trimEnd().split('\n');
    expect(lines).toHaveLength(11);
    expect(lines[0]).toBe(`${r.file}:22:1: YAML syntax error: Unexpected scalar token in YAML stream: "name"`);
    expect(lines[10]).toMatch(new RegExp(`^${r.file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: YAML: \\d+ more syntax errors after these \\(often the first one's doing\\)$`));
    expect(r.code).toBe(EXIT.usage);
  });

  it('a --set value with a tag YAML does not know (`!!float abc`) is its text: no YAMLWarning on stderr (it printed a Node process warning)', () => {
    const r = validateProcess(scenarios[scenarios.length - 1]!.text, 'vms[0].vcpus=!!float abc');
    expect(r.stderr).toBe('--set vms[0].vcpus=!!float abc: vms[0].vcpus: expected a positive integer, got "!!float abc"\n');
    expect(r.status).toBe(EXIT.usage);
  });

  it('YAML 1.1 tags (!!binary, !!set) give plain data, in a file or a --set value: one line, no Buffer methods as keys (it was a line per byte and per Buffer method: host.readBigUInt64LE)', async () => {
    const r = await validate('host: !!binary aGVsbG8=\n');
    expect(r.err).toBe(`${r.file}:1:1: vms: missing; expected a list of VMs\n${r.file}:1:16: host: expected object, received string, got "aGVsbG8="\n`);
    let err = '';
    const code = await main(['validate', scenarios[scenarios.length - 1]!.name, '--set', 'host=!!binary aGVsbG8='], () => undefined, { write: (s: string) => ((err += s), true) });
    expect(err).toBe('--set host=!!binary aGVsbG8=: host: expected object, received string, got "!!binary aGVsbG8="\n');
    expect(code).toBe(EXIT.usage);
  });

  it('a key with a newline, carriage return or terminal escape in it is shown escaped, one line per problem (it was echoed raw: one problem over two lines)', async () => {
    const r = await validate('"a\\nb": 1\nhost: {"x\\ry": 1, "e\\u001bc": 1}\n');
    expect(r.err).toBe(
      [
        `${r.file}:1:1: vms: missing; expected a list of VMs`,
        `${r.file}:1:1: a\\nb: unknown key; expected one of name, description, host, calibration, hypervisor, vms, run, plugins`,
        `${r.file}:2:8: host.x\\ry: unknown key; expected one of preset, sockets, coresPerSocket, threadsPerCore, ghz`,
        `${r.file}:2:19: host.e\\u001bc: unknown key; expected one of preset, sockets, coresPerSocket, threadsPerCore, ghz`,
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(EXIT.usage);
  });

  it('a --set argument with a newline in it is quoted escaped: one line (found with the key above)', async () => {
    let err = '';
    const code = await main(['validate', scenarios[scenarios.length - 1]!.name, '--set', 'a\nb..name='], () => undefined, { write: (s: string) => ((err += s), true) });
    expect(err).toBe('ipilab: --set a\\nb..name=: expected a path such as hypervisor.backend or vms[0].vcpus, got an empty key (two dots, or one at an end)\n');
    expect(code).toBe(EXIT.usage);
  });

  it('a document that is one alias with no anchor (`*x`) is not a scenario: exit 2, one line (was exit 1, "internal error: Unresolved alias")', async () => {
    const r = await validate('*x\n');
    expect(r.err).toBe(`ipilab: ${r.file}: expected a scenario (a mapping of host, hypervisor, vms, run, ...), got an alias\n`);
    expect(r.code).toBe(EXIT.usage);
  });
});
