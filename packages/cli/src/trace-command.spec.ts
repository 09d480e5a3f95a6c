import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTraceFormat } from '../../scenario/test/trace-format';
import { cli, small } from '../test/run-cli';
import { parseSize, sizeText } from './commands';
import { EXIT } from './main';

// The CLI's modules bind `node:fs` functions at call time (CommonJS), so spying on the module
// object makes a write fail as a full disk would.
const fs = require('node:fs') as typeof import('node:fs');

const scratch = (): string => mkdtempSync(join(tmpdir(), 'ipilab-trace-'));
const storm = join(__dirname, '..', '..', '..', 'examples', 'scenarios', 'cow-fork-storm.yaml');
const mainJs = join(__dirname, '..', 'dist', 'main.js');

describe('trace streams its JSON to the file', () => {
  afterEach(() => jest.restoreAllMocks());

  it('a medium storm trace (5 ms, ~50k events) is valid: every arrow has its end, slices nest, meta at the end', async () => {
    const dir = scratch();
    const f = join(dir, 't.json');
    const r = await cli('trace', storm, '--set', 'run.duration=5ms', '--out', f);
    expect(r.code).toBe(EXIT.ok);
    expect(r.err).toBe('');
    const text = readFileSync(f, 'utf8');
    expect(r.out).toBe(`wrote ${(JSON.parse(text) as { traceEvents: unknown[] }).traceEvents.length} trace events (${sizeText(Buffer.byteLength(text))}) to ${f}\n`);
    const doc = JSON.parse(text) as Parameters<typeof checkTraceFormat>[0] & { displayTimeUnit: string; meta: { command: string } };
    expect(doc.traceEvents.length).toBeGreaterThan(20_000);
    checkTraceFormat(doc);
    expect(Object.keys(doc)).toEqual(['traceEvents', 'displayTimeUnit', 'meta']);
    expect(doc.meta.command).toBe('trace');
    expect(readdirSync(dir)).toEqual(['t.json']);
  });

  it('the file is written in many chunks, none much over 64 KiB: the trace is never one string', async () => {
    const f = join(scratch(), 't.json');
    const sizes: number[] = [];
    const real = fs.writeSync;
    jest.spyOn(fs, 'writeSync').mockImplementation(((fd: number, buf: Buffer, ...rest: [number, number]) => {
      sizes.push(rest[1] ?? buf.length);
      return real(fd, buf, ...rest);
    }) as typeof fs.writeSync);
    const r = await cli('trace', storm, '--set', 'run.duration=2ms', '--out', f);
    expect(r.code).toBe(EXIT.ok);
    expect(sizes.length).toBeGreaterThan(10);
    expect(Math.max(...sizes)).toBeLessThan(2 ** 16 + 4096);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(readFileSync(f).length);
  });

  it('a trace that would pass --max-size is refused early with its estimate: exit 2, one line, nothing written', async () => {
    const dir = scratch();
    const r = await cli('trace', small, '--max-size', '200kB', '--out', join(dir, 't.json'));
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/^ipilab: --max-size 200kB: the trace would be about \d+ kB \(\d+ kB for the first 0\.\d+ms of the 2ms traced\); cut it with --from\/--to \(docs\/traces\.md\) or raise --max-size\n$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a trace that passes --max-size before the estimate stops there', async () => {
    const dir = scratch();
    const r = await cli('trace', small, '--max-size', '1kB', '--out', join(dir, 't.json'));
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/^ipilab: --max-size 1kB: the trace passed 1 kB at 0\.0\d+ms of simulated time; cut it with --from\/--to \(docs\/traces\.md\) or raise --max-size\n$/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('--from/--to cut a trace under the cap', async () => {
    const dir = scratch();
    const r = await cli('trace', small, '--max-size', '200kB', '--from', '1ms', '--to', '1.2ms', '--out', join(dir, 't.json'));
    expect(r.code).toBe(EXIT.ok);
    checkTraceFormat(JSON.parse(readFileSync(join(dir, 't.json'), 'utf8')) as Parameters<typeof checkTraceFormat>[0]);
  });

  it('a trace larger than the free space is refused before the disk fills', async () => {
    const dir = scratch();
    const real = fs.statfsSync;
    jest.spyOn(fs, 'statfsSync').mockImplementation(((p: string) => ({ ...real(p), bavail: 10, bsize: 4096 })) as typeof fs.statfsSync);
    const r = await cli('trace', small, '--out', join(dir, 't.json'));
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(new RegExp(`^ipilab: --out ${dir}/t\\.json: the trace would be about \\d+ kB \\(.*\\), more than the 41 kB free there; cut it with --from/--to \\(docs/traces\\.md\\) or free some space\\n$`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a bad --max-size is a usage error', async () => {
    const r = await cli('trace', small, '--max-size', 'lots', '--out', join(scratch(), 't.json'));
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('ipilab: --max-size: expected a size such as 500MB or 4GB, got "lots"\n');
  });

  it.each([
    ['ENOSPC', 'no space left on the device'],
    ['EFBIG', 'file too large (over the file size limit)'],
  ])('a disk that fills (%s) during the trace: exit 3, the reason, no file and no temporary left', async (code, words) => {
    const dir = scratch();
    const f = join(dir, 't.json');
    const real = fs.writeSync;
    let calls = 0;
    jest.spyOn(fs, 'writeSync').mockImplementation(((...args: Parameters<typeof fs.writeSync>) => {
      if (++calls === 3) throw Object.assign(new Error(`${code}: write`), { code, syscall: 'write' });
      return real(...(args as unknown as [number, Buffer]));
    }) as typeof fs.writeSync);
    const r = await cli('trace', storm, '--set', 'run.duration=2ms', '--out', f);
    expect(r.code).toBe(EXIT.notWritten);
    expect(r.out).toBe('');
    expect(r.err).toBe(`ipilab: could not write ${f}: ${words}\nipilab: the trace is lost: it was written to the file as it ran, and nothing is left of it; cut it with --from/--to (docs/traces.md) or make room\n`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('sizes read as a user writes them', () => {
    expect(parseSize('1GB')).toBe(1e9);
    expect(parseSize('500MB')).toBe(5e8);
    expect(parseSize('1.5g')).toBe(1.5e9);
    expect(parseSize('64MiB')).toBe(64 * 2 ** 20);
    expect(parseSize('4096')).toBe(4096);
    expect(parseSize('10 kB')).toBe(1e4);
    for (const bad of ['', 'GB', '-1GB', '1XB', '0', '1e9']) expect(parseSize(bad)).toBeUndefined();
    expect(sizeText(2.07e9)).toBe('2.07 GB');
    expect(sizeText(20.5e6)).toBe('20.5 MB');
  });
});

describe('a trace interrupted while it is written leaves no temporary file', () => {
  /** Waits (without a wall-clock budget of its own: jest's timeout bounds it) until `done()`. */
  const until = async (done: () => boolean): Promise<void> => {
    while (!done()) await new Promise((r) => setTimeout(r, 50));
  };

  it.each(['SIGINT', 'SIGTERM', 'SIGKILL'] as const)('%s during the run', async (signal) => {
    const dir = scratch();
    const child = spawn(process.execPath, [mainJs, 'trace', storm, '--set', 'run.duration=2s', '--max-size', '10GB', '--out', join(dir, 't.json')], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((r) => child.on('exit', (_code, sig) => r(sig)));
    // The temporary file exists and has grown: the trace is being written.
    await until(() => readdirSync(dir).some((f) => f.endsWith('.tmp') && fs.statSync(join(dir, f)).size > 1e6));
    child.kill(signal);
    expect(await exited).toBe(signal);
    await until(() => readdirSync(dir).length === 0);
    expect(existsSync(join(dir, 't.json'))).toBe(false);
  }, 60_000);
});
