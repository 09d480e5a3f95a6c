import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, small } from '../test/run-cli';
import { KernelError } from '@ipilab/core';
import { InjectedFaultError } from '@ipilab/guest';
import { reportFailure } from './failure';
import { EXIT } from './main';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'ipilab-faults-'));
const mainJs = join(__dirname, '..', 'dist', 'main.js');

/** One line on stderr, no stack, no internal name. */
function oneLine(err: string): void {
  expect(err.split('\n')).toHaveLength(2);
  expect(err).not.toMatch(/\n\s+at |Error:|internal error/);
}

describe('exit codes by whose fault', () => {
  it('a YAML alias bomb (billion laughs) is the input\'s fault: exit 2, one line', async () => {
    const f = join(scratch(), 'bomb.yaml');
    const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [i, n] of ['b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'].entries()) {
      const prev = 'abcdefghi'[i]!;
      lines.push(`${n}: &${n} [${Array(9).fill(`*${prev}`).join(',')}]`);
    }
    writeFileSync(f, `${lines.join('\n')}\n`);
    const r = await cli('validate', f);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe(`ipilab: ${f}: YAML aliases: expand to too much (an alias used more than 100 times, or aliases of aliases); expected a scenario whose aliases expand to a reasonable size\n`);
  });

  it('two plugins registering one name: exit 2 naming both files and the name', async () => {
    const r = await cli('validate', small, '--set', 'plugins=[./plugin-backend.js, ./plugin-backend-again.js]', '--set', 'hypervisor.backend=counting');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('--set plugins=[./plugin-backend.js, ./plugin-backend-again.js]: plugins[1]: the IPI backend "counting" is registered by plugins[0] (./plugin-backend.js) and plugins[1] (./plugin-backend-again.js); a plugin must give its policies names of their own\n');
    const run = await cli('run', small, '--set', 'plugins=[./plugin-backend.js, ./plugin-backend-again.js]');
    expect(run.code).toBe(EXIT.usage);
    expect(run.err).toContain('registered by plugins[0] (./plugin-backend.js) and plugins[1] (./plugin-backend-again.js)');
    oneLine(run.err);
  });

  it('a plugin registering a name ipilab has: exit 2 naming the plugin, ipilab and the name', async () => {
    const r = await cli('run', small, '--set', 'plugins=[./plugin-backend.js, ./plugin-backend-trap.js]');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('--set plugins=[./plugin-backend.js, ./plugin-backend-trap.js]: plugins[1]: the IPI backend "trap" is registered by ipilab itself and plugins[1] (./plugin-backend-trap.js); a plugin must give its policies names of their own\n');
  });

  it('a 1e9 s run.duration is refused naming run.duration and the limit, not an internal until:', async () => {
    const r = await cli('run', small, '--set', 'run.duration=1000000000s');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('--set run.duration=1000000000s: run.duration: expected a duration of at most 9007199254740991 ns (about 104 days: the simulated clock\'s range), got "1000000000s"\n');
  });

  it('hypervisor.scheduler.timeSlice: 0 names the user\'s key, not hypervisor.timeSliceNs', async () => {
    const r = await cli('run', small, '--set', 'hypervisor.scheduler.policy=fifo', '--set', 'hypervisor.scheduler.timeSlice=0');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('--set hypervisor.scheduler.timeSlice=0: hypervisor.scheduler.timeSlice: expected a positive integer number of ns, got 0\n');
  });

  it.each([
    ['throws-null', 'null'],
    ['throws-undefined', 'undefined'],
    ['throws-string', '"boom"'],
    ['throws-bare-object', 'an object \\(Object\\)'],
  ])('a plugin that does %s is the plugin\'s fault, named, exit 1, with or without --debug', async (backend, shown) => {
    for (const debug of [[], ['--debug']]) {
      const r = await cli(...debug, 'run', small, '--set', 'plugins=[./plugin-throws-values.js]', '--set', `hypervisor.backend=${backend}`);
      expect(r.code).toBe(EXIT.runError);
      expect(r.err).toMatch(new RegExp(`^ipilab: plugins\\[0\\] \\(\\./plugin-throws-values\\.js\\) failed at \\d+ ns: it threw ${shown}, not an Error \\(an Error's stack would say where\\)\\n$`));
    }
  });

  it('a plugin that throws a non-Error as the run is set up is its fault, named, exit 1 — from validate as from run (it was an internal error)', async () => {
    for (const cmd of ['validate', 'run']) {
      const r = await cli(cmd, small, '--set', 'plugins=[./plugin-backend.js, ./plugin-throws-at-setup.js]');
      expect([r.code, r.err]).toEqual([EXIT.runError, 'ipilab: plugins[1] (./plugin-throws-at-setup.js) failed as the run was set up: it threw null, not an Error\n']);
    }
  });

  it('a plugin module whose top level throws a non-Error fails to load, named, exit 2 (our handler once crashed reading its message)', async () => {
    // The built CLI in its own process: jest's module loader would wrap what the module throws.
    const r = spawnSync(process.execPath, [mainJs, 'validate', small, '--set', 'plugins=[./plugin-throws-on-require.js]'], { encoding: 'utf8', timeout: 30_000 });
    expect([r.status, r.stderr]).toEqual([EXIT.usage, '--set plugins=[./plugin-throws-on-require.js]: plugins[0]: "./plugin-throws-on-require.js" failed to load: it threw null, not an Error\n']);
  });

  it('what an injected guest fault broke is reported as the run\'s finding, one line, exit 1, not as an internal error', () => {
    const lines: string[] = [];
    const e = new InjectedFaultError('vCPU 1 used a stale translation of p page 3 at 120 ns: ... (vms[0].faults.dropIpiFence: the fence ... was dropped by fault injection ...)');
    expect(reportFailure(e, false, (s) => void lines.push(s))).toBe(EXIT.runError);
    expect(lines).toEqual([`ipilab: the run stopped on what an injected fault broke: ${e.message}\n`]);
    oneLine(lines.join(''));
    expect(reportFailure(new KernelError('x'), false, (s) => void lines.push(s))).toBe(EXIT.runError);
    expect(lines.at(-1)).toBe('ipilab: internal error: x (--debug shows where)\n');
  });

  it('the error handler survives any thrown value', () => {
    const lines: string[] = [];
    const w = (s: string): void => void lines.push(s);
    for (const v of [null, undefined, 'x', 3, Symbol('s'), Object.create(null), { toString: () => { throw new Error('no'); } }]) {
      expect(reportFailure(v, true, w)).toBe(EXIT.runError);
    }
    expect(lines[0]).toBe('ipilab: internal error: null was thrown, not an Error\n');
    const weird = Object.assign(new Error('x'), {});
    Object.defineProperty(weird, 'message', { get: () => { throw new Error('getter'); } });
    expect(reportFailure(weird, false, w)).toBe(EXIT.runError);
    expect(lines.at(-1)).toBe('ipilab: internal error: (unreadable) (--debug shows where)\n');
  });
});

describe('stdout that cannot be written', () => {
  /** Runs the built CLI with `stdout` as its standard output; resolves to its exit code and stderr. */
  const run = (argv: string[], stdout: 'pipe' | number, onOut?: (child: ReturnType<typeof spawn>) => void): Promise<{ code: number | null; err: string }> =>
    new Promise((done) => {
      const child = spawn(process.execPath, [mainJs, ...argv], { stdio: ['ignore', stdout, 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      onOut?.(child);
      child.on('close', (code) => done({ code, err }));
    });

  it('on a full device (> /dev/full): one line, exit 3, no stack', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = await run(['run', small, '--json'], full);
      expect(r.code).toBe(EXIT.notWritten);
      expect(r.err).toBe('ipilab: could not write to stdout: no space left on the device\n');
    } finally {
      closeSync(full);
    }
  });

  it('a reader that goes away (| head -c1): quiet, the command\'s own exit code', async () => {
    const dir = scratch();
    const trace = join(dir, 't.json');
    expect((await cli('trace', small, '--out', trace)).code).toBe(EXIT.ok);
    // rerun prints the trace in many chunks; the reader closes after the first.
    const r = await run(['rerun', trace], 'pipe', (child) => child.stdout!.once('data', () => child.stdout!.destroy()));
    expect(r.code).toBe(EXIT.ok);
    expect(r.err).not.toMatch(/EPIPE|Error|\n\s+at /);
  });
});
