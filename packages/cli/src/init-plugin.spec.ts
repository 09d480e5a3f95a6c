import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli } from '../test/cli-harness';
import { EXIT } from './main';

/**
 * `ipilab init-plugin` as a user has it: the package written to a fresh folder outside the
 * repository, installed (offline: its only dependencies are links into this checkout), its own
 * test run with node's runner, and the plugin run by the built CLI, by its scenario and by --plugin.
 */
const mainJs = join(__dirname, '..', 'dist', 'main.js');
const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');

describe.each([
  ['backend', 'hypervisor.backend=my-plugin'],
  ['strategy', 'vms[0].shootdownStrategy=my-plugin'],
  ['placement', 'vms[0].placement=my-plugin'],
  ['balancer', 'vms[0].scheduler.balancer=my-plugin'],
  ['workload', 'vms[0].workload={kind: my-plugin}'],
  ['preset', 'host.preset=my-plugin'],
  ['profile', 'calibration.profile=my-plugin'],
])('init-plugin --family %s', (family, key) => {
  let root: string;
  let dir: string;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ipilab-init-plugin-'));
    dir = join(root, 'my-plugin');
    const r = await cli('init-plugin', dir, '--family', family);
    expect([r.code, r.err]).toEqual([EXIT.ok, '']);
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'pipe' });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes a package with an example, a test, a scenario and a README', () => {
    expect(readdirSync(dir).filter((f) => f !== 'node_modules' && f !== 'package-lock.json').sort()).toEqual(['README.md', 'index.js', 'package.json', 'scenario.yaml', 'test']);
  });

  it('its test passes as written (npm test)', () => {
    const out = execFileSync('npm', ['test', '--silent'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    expect(out).toMatch(/# pass 1\n# fail 0/);
  });

  it('runs in ipilab: its scenario, and --plugin <dir> on another', () => {
    for (const argv of [['run', join(dir, 'scenario.yaml'), '--json'], ['run', small, '--plugin', dir, '--set', key, '--json']]) {
      const r = spawnSync(process.execPath, [mainJs, ...argv], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect([r.status, r.stderr]).toEqual([EXIT.ok, '']);
      expect(JSON.parse(r.stdout).events).toBeGreaterThan(0);
    }
  });
});

describe('init-plugin refuses', () => {
  it('a folder that is not empty: exit 2, one line, nothing written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-init-plugin-'));
    writeFileSync(join(dir, 'mine.txt'), 'x');
    const r = await cli('init-plugin', dir);
    expect([r.code, r.err]).toEqual([EXIT.usage, `ipilab: ${dir}: is not empty; expected a new or empty folder for the plugin\n`]);
    expect(readdirSync(dir)).toEqual(['mine.txt']);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a family it has no example of', async () => {
    const dir = join(tmpdir(), `ipilab-init-plugin-none-${process.pid}`);
    const r = await cli('init-plugin', dir, '--family', 'telepathy');
    expect([r.code, r.err]).toEqual([EXIT.usage, 'ipilab: --family: expected one of backend, strategy, placement, balancer, workload, preset, profile, got "telepathy"\n']);
    expect(existsSync(dir)).toBe(false);
  });
});
