import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cli } from '../test/cli-harness';
import { EXIT } from './main';

/**
 * Each example plugin (examples/plugins/*) as an outsider has it: copied to a folder outside the
 * repository, its `file:` links to this checkout's packages made absolute, installed with npm
 * (offline: nothing but those links), its own tests run (`npm test`), and its scenario run by
 * ipilab from that folder.
 */
const ROOT = resolve(__dirname, '..', '..', '..');
const EXAMPLES = join(ROOT, 'examples', 'plugins');
const examples = existsSync(EXAMPLES) ? readdirSync(EXAMPLES).filter((d) => existsSync(join(EXAMPLES, d, 'package.json'))) : [];

function copyOutside(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ipilab-plugin-${name}-`));
  cpSync(join(EXAMPLES, name), dir, { recursive: true, filter: (src) => !src.includes('node_modules') && !src.endsWith('package-lock.json') });
  const pkgFile = join(dir, 'package.json');
  const text = readFileSync(pkgFile, 'utf8').replace(/"file:\.\.\/\.\.\/\.\.\//g, `"file:${ROOT}/`);
  writeFileSync(pkgFile, text);
  execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, stdio: 'pipe' });
  return dir;
}

describe.each(examples)('example plugin %s, from a folder outside the repository', (name) => {
  let dir: string;
  beforeAll(() => {
    dir = copyOutside(name);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes its own tests (npm test)', () => {
    const out = execFileSync('npm', ['test', '--silent'], { cwd: dir, encoding: 'utf8', stdio: 'pipe' });
    expect(out).toMatch(/# fail 0/);
  });

  it('runs in ipilab from there', async () => {
    const r = await cli('run', join(dir, 'scenario.yaml'), '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(EXIT.ok);
    expect(JSON.parse(r.out).events).toBeGreaterThan(0);
  });
});
