import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeSweepWorkers, SweepJournal } from '@ipilab/scenario';
import { fakeTerminal } from '../test/run-cli';
import { EXIT, main } from './main';
import { cli } from '../test/cli-harness';

// The built CLI (packages/cli/dist, built by `npm test` before jest), killed as a user would kill it.
const MAIN = join(__dirname, '..', 'dist', 'main.js');
const EXAMPLES = join(__dirname, '..', '..', '..', 'examples', 'scenarios');
/** Six runs of a few hundred ms each, one at a time: a kill lands between the first and the last. */
const sweep = (out: string): string[] => ['sweep', join(EXAMPLES, 'noisy-neighbour.yaml'), '--set', 'run.duration=10ms', '--set', 'run.replications=2', '--grid', 'vms[0].vcpus=1,2,3', '--workers', '1', '--out', out];


/** The JSON without what differs between two makings of it: the wall-clock times. */
const withoutTimes = (json: string): unknown => {
  const d = JSON.parse(json) as { meta: Record<string, unknown> };
  delete d.meta['startedAt'];
  delete d.meta['wallSeconds'];
  // Measured per worker thread: a resumed sweep's threads are not the first one's.
  delete (d as Record<string, unknown>)['workerHeap'];
  return d;
};

/** Starts the sweep in a child process and sends `signal` once its journal holds `runs` finished runs. */
async function interrupt(out: string, signal: NodeJS.Signals, runs: number): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> {
  const child = spawn(process.execPath, [MAIN, ...sweep(out)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const journal = join(out, 'sweep.journal.jsonl');
  const ended = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) => child.on('exit', (code, sig) => done({ code, signal: sig })));
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 50));
    if (existsSync(journal) && readFileSync(journal, 'utf8').split('\n').filter(Boolean).length >= 1 + runs) break;
  }
  child.kill(signal);
  return { ...(await ended), err };
}

let whole: string;

beforeAll(async () => {
  const r = await cli(...sweep(mkdtempSync(join(tmpdir(), 'ipilab-resume-'))), '--json');
  expect(r.code).toBe(EXIT.ok);
  whole = r.out;
}, 120_000);

afterAll(() => closeSweepWorkers());

describe('sweeps survive interruption', () => {
  it('killed (SIGKILL) mid-sweep, --resume runs only the missing runs and gives what an uninterrupted sweep gives', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ipilab-resume-'));
    const killed = await interrupt(out, 'SIGKILL', 2);
    expect(killed.signal).toBe('SIGKILL');
    const journal = readFileSync(join(out, 'sweep.journal.jsonl'), 'utf8').split('\n').filter(Boolean);
    expect(journal.length - 1).toBeGreaterThanOrEqual(2);
    expect(journal.length - 1).toBeLessThan(6);
    // Without --resume the unfinished sweep is not overwritten.
    const again = await cli(...sweep(out));
    expect([again.code, again.out]).toEqual([EXIT.usage, '']);
    expect(again.err).toMatch(/--out .*: holds an unfinished sweep \(sweep\.journal\.jsonl, \d of 6 runs done\): add --resume to finish it/);
    const resumed = await cli(...sweep(out), '--resume', '--json');
    expect(resumed.code).toBe(EXIT.ok);
    expect(withoutTimes(resumed.out)).toEqual(withoutTimes(whole));
    expect(withoutTimes(readFileSync(join(out, 'sweep.json'), 'utf8'))).toEqual(withoutTimes(whole));
    // The journal has served once every output is written.
    expect(existsSync(join(out, 'sweep.journal.jsonl'))).toBe(false);
  }, 120_000);

  it('Ctrl-C (SIGINT) stops it at once, writes what finished marked interrupted, says how to resume, exit 130; the resume completes it', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ipilab-resume-'));
    const stopped = await interrupt(out, 'SIGINT', 1);
    expect(stopped.code).toBe(130);
    expect(stopped.err).toMatch(/^ipilab: sweep interrupted by SIGINT after (\d) of 6 runs: the outputs have those, marked interrupted; finish it with the same command and --resume \(the \1 finished runs are in .*sweep\.journal\.jsonl\)\n$/);
    const partial = JSON.parse(readFileSync(join(out, 'sweep.json'), 'utf8'));
    expect(partial.interrupted.of).toBe(6);
    expect(partial.interrupted.runs).toBeLessThan(6);
    // Points short of replications say how many they miss.
    const missing = partial.points.reduce((n: number, p: { missing?: number }) => n + (p.missing ?? 0), 0);
    expect(missing).toBe(6 - partial.interrupted.runs);
    const resumed = await cli(...sweep(out), '--resume', '--json');
    expect(resumed.code).toBe(EXIT.ok);
    expect(withoutTimes(resumed.out)).toEqual(withoutTimes(whole));
  }, 120_000);

  it('SIGTERM likewise, exit 143', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ipilab-resume-'));
    const stopped = await interrupt(out, 'SIGTERM', 1);
    expect(stopped.code).toBe(143);
    expect(stopped.err).toMatch(/sweep interrupted by SIGTERM/);
    expect(existsSync(join(out, 'sweep.journal.jsonl'))).toBe(true);
  }, 120_000);

  it('on a terminal, Ctrl-C gives the cursor back (the progress bar hid it)', async () => {
    const term = fakeTerminal();
    const write = term.write.bind(term);
    let sent = false;
    term.write = (x: string): boolean => {
      // Ctrl-C once the bar shows a finished run (it redraws at most every 100 ms, so not each one).
      if (!sent && / [1-5]\/6 runs/.test(x)) {
        sent = true;
        setImmediate(() => process.emit('SIGINT'));
      }
      return write(x);
    };
    const code = await main(sweep(mkdtempSync(join(tmpdir(), 'ipilab-resume-'))), () => undefined, term);
    expect(sent).toBe(true);
    expect(code).toBe(130);
    const hidden = term.text.lastIndexOf('\x1b[?25l');
    expect(hidden).toBeGreaterThanOrEqual(0);
    expect(term.text.indexOf('\x1b[?25h', hidden)).toBeGreaterThan(hidden);
  }, 120_000);

  it('--resume needs --out, and a journal of the same sweep', async () => {
    const noOut = await cli(...sweep('x').slice(0, -2), '--resume');
    expect([noOut.code, noOut.err]).toEqual([EXIT.usage, 'ipilab: --resume: expected --out dir, the directory of the interrupted sweep (its journal is there)\n']);
    const empty = mkdtempSync(join(tmpdir(), 'ipilab-resume-'));
    const none = await cli(...sweep(empty), '--resume');
    expect(none.code).toBe(EXIT.usage);
    expect(none.err).toMatch(/--resume: .* has no unfinished sweep \(no sweep\.journal\.jsonl\)/);
    // A journal of this sweep, resumed with another --set: refused, nothing run.
    const out = mkdtempSync(join(tmpdir(), 'ipilab-resume-'));
    await interrupt(out, 'SIGKILL', 1);
    const other = await cli(...sweep(out), '--set', 'run.seed=5', '--resume');
    expect(other.code).toBe(EXIT.usage);
    expect(other.err).toMatch(/is another sweep's \(its scenario, --set, --metric, grid or seeds differ/);
  }, 120_000);
});

describe('SweepJournal', () => {
  it('reads back exactly what was appended, NaN (a figure not produced) included, and drops a last line a kill cut short', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-journal-'));
    const path = join(dir, 'sub', 'sweep.journal.jsonl');
    const j = SweepJournal.create(path, 'id', 3);
    const r = { point: 0, seed: 1, events: 5, vms: { a: { figure: 'f', value: NaN, higherIsBetter: true, serialFraction: 0.25, ranOn: { pcpuNs: {}, socketNs: {} }, metrics: [] } } };
    j.append(r);
    j.append({ point: 1, seed: 1, error: 'failed' });
    j.close();
    writeFileSync(path, `${readFileSync(path, 'utf8')}{"point":2,"se`);
    const again = SweepJournal.resume(path, 'id', dir);
    expect(again.done).toEqual([r, { point: 1, seed: 1, error: 'failed' }]);
    expect(Number.isNaN((again.done[0]!.vms!['a']!.value))).toBe(true);
    again.append({ point: 2, seed: 1, error: 'x' });
    again.close();
    expect(SweepJournal.resume(path, 'id', dir).done).toHaveLength(3);
    expect(() => SweepJournal.resume(path, 'other', dir)).toThrow(/another sweep's/);
  });
});
