import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closeSweepWorkers } from '@ipilab/scenario';
import { cli, small, withoutTimes } from '../test/run-cli';
import { EXIT } from './main';
import { parseWallTime } from './watchdog';

/** small.yaml with an IPI backend whose send never returns. */
const hung = [small, '--set', 'plugins=[./plugin-loops.js]', '--set', 'hypervisor.backend=loops'];

afterAll(() => closeSweepWorkers());

describe('--timeout: a watchdog on run, compare, sweep and trace', () => {
  it.each([
    ['run', ['--out', 'out']],
    ['compare', ['--vary', 'run.seed=1,2', '--html', 'r.html']],
    ['trace', ['--out', 't.json']],
  ])('%s with a plugin that never returns ends after the timeout: one line, exit 1, nothing written, no temporary left', async (command, extra) => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-watchdog-'));
    const args = extra.map((a) => (/^(out|r\.html|t\.json)$/.test(a) ? join(dir, a) : a));
    const t0 = performance.now();
    const r = await cli(command, ...hung, ...args, '--timeout', '1s');
    const ms = performance.now() - t0;
    expect(r.code).toBe(EXIT.runError);
    expect(r.err).toBe(`ipilab: --timeout 1s: the ${command} did not finish within 1s; stopped, nothing written: a plugin or the model may not end, or the run needs longer (shorten run.duration, or raise --timeout)\n`);
    expect(r.out).toBe('');
    expect(readdirSync(dir)).toEqual([]);
    // The thread is stopped where it loops: the command ends about when its time is up.
    expect(ms).toBeGreaterThanOrEqual(1_000);
    expect(ms).toBeLessThan(15_000);
  }, 30_000);

  it('a sweep whose runs hang is stopped as Ctrl-C stops it: what finished is written, marked interrupted, resumable; exit 1', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-watchdog-'));
    const r = await cli('sweep', small, '--set', 'plugins=[./plugin-loops.js]', '--grid', 'hypervisor.backend=pv,loops', '--workers', '1', '--out', dir, '--timeout', '3s');
    expect(r.code).toBe(EXIT.runError);
    expect(r.err).toMatch(/^ipilab: sweep interrupted by --timeout after 1 of 2 runs: the outputs have those, marked interrupted; finish it with the same command and --resume/m);
    const partial = JSON.parse(readFileSync(join(dir, 'sweep.json'), 'utf8'));
    expect(partial.interrupted).toEqual({ runs: 1, of: 2 });
    expect(existsSync(join(dir, 'sweep.journal.jsonl'))).toBe(true);
  }, 60_000);

  it('a command that ends in time prints what it prints without the watchdog (the same JSON apart from the times), exit 0', async () => {
    const plain = await cli('run', small, '--json');
    const watched = await cli('run', small, '--json', '--timeout', '60s');
    expect(watched.code).toBe(EXIT.ok);
    expect(withoutTimes(watched.out)).toBe(withoutTimes(plain.out));
    // A user's mistake is still exit 2, from the watched thread as from the process.
    const bad = await cli('run', small, '--set', 'vms[0].vcpus=-4', '--timeout', '60s');
    expect([bad.code, bad.err]).toEqual([EXIT.usage, '--set vms[0].vcpus=-4: vms[0].vcpus: expected a positive integer, got -4\n']);
  }, 60_000);

  it('a duration that is not one is exit 2 before anything runs', async () => {
    const r = await cli('run', small, '--timeout', 'soon');
    expect([r.code, r.err]).toEqual([EXIT.usage, 'ipilab: --timeout: expected a positive duration of at most 24 days, such as 90s, 10m or 1h, got "soon"\n']);
    expect(parseWallTime('--timeout', '90')).toBe(90_000);
    expect(parseWallTime('--timeout', '1.5h')).toBe(5_400_000);
    expect(parseWallTime('--timeout', '250ms')).toBe(250);
    expect(() => parseWallTime('--timeout', '0s')).toThrow(/expected a positive duration/);
    expect(() => parseWallTime('--timeout', '30d')).toThrow(/expected a positive duration/);
  });
});

