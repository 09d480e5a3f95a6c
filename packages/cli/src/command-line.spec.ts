import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { small } from '../test/run-cli';

// These run the built CLI (packages/cli/dist, built by `npm test` before jest) the ways a user
// does, from the repository root, after the README's set-up.
const ROOT = join(__dirname, '..', '..', '..');
const MAIN = join(__dirname, '..', 'dist', 'main.js');
const SHIM = join(__dirname, '..', 'bin', 'ipilab.js');
const PNPM = join(ROOT, 'tools', 'node_modules', '.bin', 'pnpm');

/** The environment without what an enclosing `npm test` sets for its scripts. */
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));

function sh(cmd: string, args: readonly string[], cwd = ROOT): SpawnSyncReturns<string> & { ms: number } {
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 60_000 });
  return Object.assign(r, { ms: performance.now() - t0 });
}

const parses = (text: string): boolean => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

describe('a clean, fast command line', () => {
  it('--help, --version and a refused output path load neither the model nor zod, YAML, inversify, the tables or the charts', () => {
    const cases: [string[], number][] = [
      [['--help'], 0],
      [['--version'], 0],
      // A usage error found before the scenario is read is reported (reportFailure) without loading it.
      [['run', 'any.yaml', '--out', '/proc/ipilab-out'], 2],
    ];
    for (const [argv, expected] of cases) {
      const probe = `const m = require(${JSON.stringify(MAIN)}); m.main(${JSON.stringify(argv)}, () => {}, { write: () => true }).then((code) => process.stdout.write(JSON.stringify({ code, loaded: Object.keys(require.cache) })));`;
      const r = sh(process.execPath, ['-e', probe]);
      const { code, loaded } = JSON.parse(r.stdout) as { code: number; loaded: string[] };
      expect(code).toBe(expected);
      const heavy = loaded.filter((f) => /packages\/(?!cli\/)[^/]+\/dist\/|node_modules\/.*\/(zod|yaml|inversify|@inversifyjs|cli-table3|cli-progress|vega|vega-lite|piscina|jstat)\//.test(f));
      expect(heavy).toEqual([]);
    }
  });

  // How fast they answer is the bench's (`pnpm bench --only startup`), not a test's: a timed test fails on a busy machine.
  it('pnpm ipilab and npx ipilab answer --help without re-checking the install', () => {
    expect(existsSync(PNPM)).toBe(true);
    const pnpm = sh(PNPM, ['ipilab', '--help']);
    expect(pnpm.status).toBe(0);
    expect(pnpm.stdout).toMatch(/^Usage: ipilab /);
    // At most pnpm's echo of the command: no install check ("Lockfile is up to date", "Done in ...").
    expect(pnpm.stderr).not.toMatch(/Lockfile|Scope:|Done in/);
    const npx = sh('npx', ['ipilab', '--help']);
    expect([npx.status, npx.stderr]).toEqual([0, '']);
    expect(npx.stdout).toMatch(/^Usage: ipilab /);
  }, 60_000);

  it('`--json > f` is valid JSON however the CLI is started: npm run, pnpm, npx', () => {
    for (const [cmd, args] of [
      ['npm', ['run', 'ipilab', '--', 'run', small, '--json']],
      [PNPM, ['ipilab', 'run', small, '--json']],
      ['npx', ['ipilab', 'run', small, '--json']],
    ] as const) {
      const r = sh(cmd, args);
      expect(r.status).toBe(0);
      expect(parses(r.stdout)).toBe(true);
      expect(JSON.parse(r.stdout).meta.command).toBe('run');
    }
  }, 60_000);

  it('npx ipilab --version names the version', () => {
    const pkg = JSON.parse(readFileSync(join(__dirname, '..', 'package.json'), 'utf8')) as { version: string };
    expect(sh('npx', ['ipilab', '--version']).stdout).toMatch(new RegExp(`^ipilab ${pkg.version.replace(/\./g, '\\.')}( \\(commit [0-9a-f]{40}(, with uncommitted changes)?\\))?\\n$`));
  });
});

describe('the ipilab shim (packages/cli/bin/ipilab.js)', () => {
  /** A workspace with the shim, a stand-in CLI and one package built at `builtAt` (s since the epoch). */
  function workspace(built: boolean): string {
    const root = mkdtempSync(join(tmpdir(), 'ipilab-shim-'));
    mkdirSync(join(root, 'packages', 'cli', 'bin'), { recursive: true });
    copyFileSync(SHIM, join(root, 'packages', 'cli', 'bin', 'ipilab.js'));
    if (built) {
      mkdirSync(join(root, 'packages', 'cli', 'dist'));
      writeFileSync(join(root, 'packages', 'cli', 'dist', 'main.js'), 'exports.runAsProcess = async (argv) => { process.stdout.write(`cli ${argv.join(" ")}\\n`); process.exitCode = 4; };\n');
    }
    mkdirSync(join(root, 'packages', 'model', 'src', 'deep'), { recursive: true });
    mkdirSync(join(root, 'packages', 'model', 'dist'));
    writeFileSync(join(root, 'packages', 'model', 'src', 'deep', 'a.ts'), 'export {};\n');
    writeFileSync(join(root, 'packages', 'model', 'dist', '.tsbuildinfo'), '{}');
    utimesSync(join(root, 'packages', 'model', 'src', 'deep', 'a.ts'), 1_000, 1_000);
    utimesSync(join(root, 'packages', 'model', 'dist', '.tsbuildinfo'), 2_000, 2_000);
    return root;
  }

  it('runs the built CLI with the arguments and its exit code, silently when the build is current', () => {
    const root = workspace(true);
    const r = sh(process.execPath, [join(root, 'packages', 'cli', 'bin', 'ipilab.js'), 'run', 'x.yaml']);
    expect([r.status, r.stdout, r.stderr]).toEqual([4, 'cli run x.yaml\n', '']);
  });

  it('warns on stderr, once, when a source is newer than its package\'s build', () => {
    const root = workspace(true);
    utimesSync(join(root, 'packages', 'model', 'src', 'deep', 'a.ts'), 3_000, 3_000);
    const r = sh(process.execPath, [join(root, 'packages', 'cli', 'bin', 'ipilab.js'), '--help']);
    expect(r.stdout).toBe('cli --help\n');
    expect(r.stderr).toBe('ipilab: warning: packages/model/src/deep/a.ts changed since the last build; run `pnpm build` (or npm start) to use it\n');
  });

  it('says how to set up when nothing is built yet, exit 2', () => {
    const r = sh(process.execPath, [join(workspace(false), 'packages', 'cli', 'bin', 'ipilab.js'), '--help']);
    expect([r.status, r.stdout]).toEqual([2, '']);
    expect(r.stderr).toBe('ipilab: not built yet: run `npm start` or `npm test` once (they install and build), then try again\n');
  });
});
