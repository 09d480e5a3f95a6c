import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from './main';
import { cli } from '../test/cli-harness';

const EXAMPLES = join(__dirname, '..', '..', '..', 'examples', 'litmus');


const SB = `C SB+fencembonceonces
(*
 * Result: Never
 *)
{}
P0(int *x, int *y) { int r0; WRITE_ONCE(*x, 1); smp_mb(); r0 = READ_ONCE(*y); }
P1(int *x, int *y) { int r0; WRITE_ONCE(*y, 1); smp_mb(); r0 = READ_ONCE(*x); }
exists (0:r0=0 /\\ 1:r0=0)
`;

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'ipilab-litmus-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(d, name, '..'), { recursive: true });
    writeFileSync(join(d, name), text);
  }
  return d;
}

describe('ipilab litmus', () => {
  it('prints herd7\'s lines for a test', async () => {
    const d = dir({ 'SB.litmus': SB });
    const r = await cli('litmus', join(d, 'SB.litmus'));
    expect(r.code).toBe(EXIT.ok);
    expect(r.err).toBe('');
    expect(r.out).toBe(
      ['Test SB+fencembonceonces Allowed', 'States 3', '0:r0=0; 1:r0=1;', '0:r0=1; 1:r0=0;', '0:r0=1; 1:r0=1;', 'No', 'Witnesses', 'Positive: 0 Negative: 3', 'Condition exists (0:r0=0 /\\ 1:r0=0)', 'Observation SB+fencembonceonces Never 0 3', ''].join('\n'),
    );
  });

  it('checks a directory recursively, in name order, a blank line between tests; a parse error is one line, the rest still checked, exit 2', async () => {
    const d = dir({ 'b/SB.litmus': SB, 'a/bad.litmus': 'C bad\n{}\nP0(int *x) { WRITE_ONCE(*x, 1) }\nexists (x=1)\n', 'notes.txt': 'not a test' });
    const r = await cli('litmus', d);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toMatch(new RegExp(`^${join(d, 'a', 'bad.litmus').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3:\\d+: `));
    expect(r.out).toContain('Observation SB+fencembonceonces Never 0 3');
  });

  it('--judge compares with the Result line; a mismatch exits 1', async () => {
    const good = dir({ 'SB.litmus': SB });
    const ok = await cli('litmus', '--judge', good);
    expect(ok.code).toBe(EXIT.ok);
    expect(ok.out).toContain('Judge SB+fencembonceonces ok');
    const bad = dir({ 'SB.litmus': SB.replace('Result: Never', 'Result: Sometimes') });
    const mismatch = await cli('litmus', '--judge', bad);
    expect(mismatch.code).toBe(EXIT.runError);
    expect(mismatch.out).toContain('Judge SB+fencembonceonces MISMATCH: expected Sometimes, got Never');
  });

  it('--trace prints a witness step by step, or says there is none', async () => {
    const d = dir({ 'SB.litmus': SB, 'SBp.litmus': SB.replace(/smp_mb\(\); /g, '').replace('SB+fencembonceonces', 'SB+poonceonces') });
    const r = await cli('litmus', '--trace', d);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('Trace SB+fencembonceonces: no allowed execution satisfies 0:r0=0 /\\ 1:r0=0');
    expect(r.out).toMatch(/Trace SB\+poonceonces: an allowed execution where 0:r0=0 \/\\ 1:r0=0 holds/);
    expect(r.out).toContain('already overwritten by');
  });

  it('--sample explores at random with a seed and says when it found no witness', async () => {
    const d = dir({ 'SB.litmus': SB });
    const r = await cli('litmus', '--sample', '500', '--seed', '3', d);
    expect(r.code).toBe(EXIT.ok);
    expect(r.out).toContain('Sample SB+fencembonceonces seed 3: no witness in 500 samples');
    const found = await cli('litmus', '--sample', '500', dir({ 'SBp.litmus': SB.replace(/smp_mb\(\); /g, '') }));
    expect(found.out).toMatch(/^Sample SB\+fencembonceonces seed 42: witness found after \d+ of 500 samples \(shrunk\)\n/);
    expect(found.out).toContain('Observation SB+fencembonceonces Sometimes 1 ');
    const again = await cli('litmus', '--sample', '500', '--seed', '3', d);
    expect(again.out).toBe(r.out);
  });

  it('--json gives one document', async () => {
    const d = dir({ 'SB.litmus': SB });
    const r = await cli('litmus', '--json', d);
    const doc = JSON.parse(r.out) as { tests: { name: string; observation: string; positive: number; negative: number; states: unknown[]; expected: string }[] };
    expect(doc.tests[0]).toMatchObject({ name: 'SB+fencembonceonces', observation: 'Never', positive: 0, negative: 3, expected: 'Never' });
    expect(doc.tests[0]!.states).toHaveLength(3);
  });

  it.each([
    [['litmus', '/nonexistent/x.litmus'], '/nonexistent/x.litmus: no such file or directory'],
    [['litmus', '--sample', '0', 'x'], '--sample: expected a positive whole number, got "0"'],
    [['litmus', '--seed', '3', 'x'], '--seed: only with --sample'],
    [['litmus', '--max-candidates', 'many', 'x'], '--max-candidates: expected a positive whole number, got "many"'],
  ])('%j is one line naming the problem, exit 2', async (argv, text) => {
    const r = await cli(...argv);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toContain(text);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.out).toBe('');
  });

  it('reads a device or an oversized file only up to the input limit: one line, exit 2, the other files still checked', async () => {
    const d = dir({ 'SB.litmus': SB, 'big.litmus': `C big\n(* ${'x'.repeat(2048)} *)\n` });
    const r = await cli('--max-input-size', '1KiB', 'litmus', d, '/dev/zero');
    expect(r.code).toBe(EXIT.usage);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/big\.litmus: 2(\.\d)? KiB, over the input size limit of 1 KiB; raise it with --max-input-size/);
    expect(lines[1]).toMatch(/^\/dev\/zero: more than 1 KiB, over the input size limit of 1 KiB/);
    expect(r.out).toContain('Observation SB+fencembonceonces Never 0 3');
  });

  it('a test over --max-candidates is one line naming it, exit 1', async () => {
    const d = dir({ 'SB.litmus': SB });
    const r = await cli('litmus', '--max-candidates', '1', d);
    expect(r.code).toBe(EXIT.runError);
    expect(r.err).toMatch(/SB\+fencembonceonces: more than 1 candidate executions/);
  });

  it('every example test passes --judge (the verdicts the kernel documents)', async () => {
    const r = await cli('litmus', '--judge', EXAMPLES);
    expect(r.err).toBe('');
    expect(r.out).not.toContain('MISMATCH');
    expect(r.out).not.toContain('no Result line');
    expect(r.code).toBe(EXIT.ok);
  });
});
