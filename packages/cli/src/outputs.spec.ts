import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOutputSchema } from '@ipilab/scenario';
import { cli, small } from '../test/run-cli';
import { EXIT } from './main';
import { OutputPlan } from './outputs';

// The CLI's modules bind `node:fs` functions at call time (CommonJS), so spying on the module
// object makes a write fail as a full disk would.
const fs = require('node:fs') as typeof import('node:fs');

/** Every file under `dir`, recursively, relative to it. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

const scratch = (): string => mkdtempSync(join(tmpdir(), 'ipilab-outputs-'));
/** A run that would take minutes: a refusal that comes back in under a second came before it. */
const long = ['--set', 'run.duration=20s'];

describe('output paths are checked before the run', () => {
  const dir = scratch();
  const aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'x');
  const fifo = join(dir, 'a-fifo');
  execFileSync('mkfifo', [fifo]);
  const cases: [string, string[], RegExp][] = [
    ['--out on /proc (it used to hang)', ['run', small, ...long, '--out', '/proc/x'], /^ipilab: --out \/proc\/x: \/proc is a special file system; expected a directory on a disk\n$/],
    ['--out on /sys', ['run', small, ...long, '--out', '/sys/kernel/ipilab'], /^ipilab: --out \/sys\/kernel\/ipilab: \/sys is a special file system/],
    ['--html to a device', ['run', small, ...long, '--html', '/dev/null'], /^ipilab: --html \/dev\/null: \/dev is a special file system; expected a file on a disk\n$/],
    ['a trace on /proc', ['trace', small, ...long, '--out', '/proc/self/t.json'], /^ipilab: --out \/proc\/self\/t\.json: \/proc is a special file system/],
    ['--out naming a file', ['run', small, ...long, '--out', aFile], new RegExp(`^ipilab: --out ${aFile}: is a file, expected a directory \\(it is created if missing\\)\n$`)],
    ['--out under a file (it used to lose the results)', ['run', small, ...long, '--json', '--out', join(aFile, 'res')], new RegExp(`^ipilab: --out ${aFile}/res: ${aFile} is a file, not a directory, so ${aFile}/res cannot be created\n$`)],
    ['--html in a missing directory', ['run', small, ...long, '--html', join(dir, 'missing', 'r.html')], new RegExp(`^ipilab: --html ${dir}/missing/r\\.html: directory ${dir}/missing does not exist\n$`)],
    ['--html naming a directory', ['run', small, ...long, '--html', dir], new RegExp(`^ipilab: --html ${dir}: is a directory, expected a file \\(or nothing\\) to write\n$`)],
    ['--html naming a FIFO', ['run', small, ...long, '--html', fifo], new RegExp(`^ipilab: --html ${fifo}: is a FIFO, expected a file \\(or nothing\\) to write\n$`)],
    ['--html naming a file --out writes', ['compare', small, ...long, '--vary', 'hypervisor.backend=trap,pv', '--out', join(dir, 'o'), '--html', join(dir, 'o', 'compare.json')], /: also written by --out .*\/o\/compare\.json; expected a different file\n$/],
    ['sweep --out under a file', ['sweep', small, ...long, '--grid', 'vms[0].vcpus=2,4', '--out', join(aFile, 'x', 'y')], /is a file, not a directory/],
  ];
  it.each(cases)('%s: exit 2, one line, nothing written, at once', async (_name, argv, message) => {
    const before = tree(dir);
    const r = await cli(...argv);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(message);
    expect(r.out).toBe('');
    expect(r.ms).toBeLessThan(1_000);
    expect(tree(dir)).toEqual(before);
  });

  it('--html is not written when --out is refused (every path is checked first)', async () => {
    const html = join(dir, 'r.html');
    const r = await cli('run', small, '--html', html, '--out', aFile);
    expect(r.code).toBe(EXIT.usage);
    expect(existsSync(html)).toBe(false);
  });

  it('a directory that is not writable is refused (as root, who may write anywhere, the CLI runs as nobody)', async () => {
    const ro = join(scratch(), 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o555);
    chmodSync(join(ro, '..'), 0o755);
    const argv = ['run', small, ...long, '--out', join(ro, 'res')];
    let code: number | null;
    let err: string;
    if (process.getuid?.() === 0) {
      const main = join(__dirname, '..', 'dist', 'main.js');
      const r = spawnSync(process.execPath, [main, ...argv], { uid: 65534, gid: 65534, encoding: 'utf8', timeout: 10_000 });
      // A container that forbids changing user cannot run this case.
      if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'EPERM') return;
      [code, err] = [r.status, r.stderr];
    } else {
      ({ code, err } = await cli(...argv));
    }
    expect(code).toBe(EXIT.usage);
    expect(err).toBe(`ipilab: --out ${ro}/res: cannot be created: ${ro} is not writable\n`);
  });

  it('an --out directory that does not exist yet is created, parents too', async () => {
    const out = join(scratch(), 'a', 'b', 'c');
    const r = await cli('run', small, '--out', out);
    expect(r.code).toBe(EXIT.ok);
    expect(tree(out)).toEqual(['run.csv', 'run.csv.meta.json', 'run.json']);
  });
});

describe('a write that fails after the run loses nothing', () => {
  afterEach(() => jest.restoreAllMocks());

  /** Makes writes whose path contains `needle` fail as on a full disk. */
  function diskFullFor(needle: string): void {
    const real = fs.writeFileSync;
    jest.spyOn(fs, 'writeFileSync').mockImplementation((file, ...rest) => {
      if (String(file).includes(needle)) throw Object.assign(new Error(`ENOSPC: no space left on device, open '${String(file)}'`), { code: 'ENOSPC' });
      return real(file, ...(rest as [string]));
    });
  }

  it('--json --out --html: exit 3, the JSON on stdout, each file named with why, no file and no temporary left', async () => {
    const base = scratch();
    const out = join(base, 'results');
    const html = join(base, 'r.html');
    diskFullFor('.run.csv.');
    const r = await cli('run', small, '--json', '--out', out, '--html', html);
    expect(r.code).toBe(EXIT.notWritten);
    const doc = runOutputSchema.parse(JSON.parse(r.out));
    expect(Object.keys(doc.vms)).toEqual(['churn', 'victim']);
    expect(doc.meta?.command).toBe('run');
    expect(r.err.split('\n')).toEqual([
      `ipilab: could not write ${out}/run.json: not written either (all or nothing: ${out}/run.csv failed)`,
      `ipilab: could not write ${out}/run.csv: no space left on the device`,
      `ipilab: could not write ${out}/run.csv.meta.json: not written either (all or nothing: ${out}/run.csv failed)`,
      `ipilab: could not write ${html}: not written either (all or nothing: ${out}/run.csv failed)`,
      'ipilab: the results are not lost: they are the JSON on stdout',
      '',
    ]);
    expect(r.err).not.toContain('.tmp');
    // The directory it created for them is gone again, and nothing else is left.
    expect(tree(base)).toEqual([]);
  });

  it('with the table on stdout, the JSON follows it', async () => {
    const out = join(scratch(), 'results');
    diskFullFor('.run.json.');
    const r = await cli('run', small, '--out', out);
    expect(r.code).toBe(EXIT.notWritten);
    const at = r.out.indexOf('{\n');
    expect(r.out.slice(0, at)).toContain('Interference');
    expect(runOutputSchema.safeParse(JSON.parse(r.out.slice(at))).success).toBe(true);
    expect(r.err).toContain('ipilab: the results are not lost: they follow on stdout as JSON\n');
  });

  it('a rename that fails half-way is undone whole: the files renamed before it go, a file they replaced comes back, no temporary is left', async () => {
    const base = scratch();
    const plan = new OutputPlan();
    const files = plan.dir('--out', join(base, 'o'), ['a.json', 'b.json']);
    const html = plan.file('--html', join(base, 'r.html'));
    plan.check();
    mkdirSync(join(base, 'o'));
    writeFileSync(files['a.json']!, 'old a');
    const real = fs.renameSync;
    jest.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (String(to) === files['b.json']) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
      real(from, to);
    });
    const failures = plan.write(new Map([[files['a.json']!, 'a'], [files['b.json']!, 'b'], [html, 'h']]));
    expect(failures).toEqual([
      { shown: join(base, 'o', 'a.json'), reason: `not written either (all or nothing: ${join(base, 'o', 'b.json')} failed)` },
      { shown: join(base, 'o', 'b.json'), reason: 'permission denied' },
      { shown: join(base, 'r.html'), reason: `not written either (all or nothing: ${join(base, 'o', 'b.json')} failed)` },
    ]);
    expect(tree(base)).toEqual(['o', 'o/a.json']);
    expect(readFileSync(files['a.json']!, 'utf8')).toBe('old a');
  });

  it('files a command replaces are replaced whole, and nothing set aside is left', () => {
    const base = scratch();
    const plan = new OutputPlan();
    const files = plan.dir('--out', join(base, 'o'), ['a.json']);
    const html = plan.file('--html', join(base, 'r.html'));
    plan.check();
    mkdirSync(join(base, 'o'));
    writeFileSync(files['a.json']!, 'old a');
    writeFileSync(html, 'old h');
    expect(plan.write(new Map([[files['a.json']!, 'a'], [html, 'h']]))).toEqual([]);
    expect(tree(base)).toEqual(['o', 'o/a.json', 'r.html']);
    expect([readFileSync(files['a.json']!, 'utf8'), readFileSync(html, 'utf8')]).toEqual(['a', 'h']);
  });

  it.each([
    ['EFBIG', 'file too large (over the file size limit)'],
    ['EACCES', 'permission denied'],
    ['EDQUOT', 'disk quota exceeded'],
  ])('a write failing with %s: exit 3, the reason, nothing written and no temporary left', async (code, words) => {
    const base = scratch();
    const out = join(base, 'results');
    const html = join(base, 'r.html');
    const real = fs.writeFileSync;
    jest.spyOn(fs, 'writeFileSync').mockImplementation((file, ...rest) => {
      if (String(file).includes('.r.html.')) throw Object.assign(new Error(`${code}: write`), { code });
      return real(file, ...(rest as [string]));
    });
    const r = await cli('run', small, '--json', '--out', out, '--html', html);
    expect(r.code).toBe(EXIT.notWritten);
    expect(r.err).toContain(`ipilab: could not write ${html}: ${words}\n`);
    expect(tree(base)).toEqual([]);
  });
});

describe('a signal during the write', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s waits for the write to end: every file whole, no temporary, then the process ends by it', (signal) => {
    const dir = join(scratch(), 'o');
    const outputs = join(__dirname, '..', 'dist', 'outputs.js');
    // A child process (the signal ends it): the signal comes while the second of three files is written.
    const script = `
      const fs = require('node:fs');
      const { OutputPlan } = require(${JSON.stringify(outputs)});
      const plan = new OutputPlan();
      const files = plan.dir('--out', ${JSON.stringify(dir)}, ['a.json', 'b.json', 'c.json']);
      plan.check();
      const real = fs.writeFileSync;
      let n = 0;
      fs.writeFileSync = (f, ...rest) => { if (++n === 2) process.kill(process.pid, '${signal}'); return real(f, ...rest); };
      const failures = plan.write(new Map(Object.values(files).map((f) => [f, 'x'.repeat(100000)])));
      process.stdout.write(JSON.stringify(failures));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal).toBe(signal);
    expect(r.stdout).toBe('[]');
    expect(tree(dir)).toEqual(['a.json', 'b.json', 'c.json']);
    for (const f of ['a.json', 'b.json', 'c.json']) expect(readFileSync(join(dir, f), 'utf8')).toHaveLength(100000);
  });
});
