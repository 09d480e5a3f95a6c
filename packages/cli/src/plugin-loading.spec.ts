import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXIT } from './main';

/**
 * Plugins as a user outside the repository has them: files in a temporary folder with no
 * node_modules, loaded by the built CLI in its own process (jest's module system would stand in
 * for Node's resolver, require(esm) and the resolution fallback these are about).
 */
const mainJs = join(__dirname, '..', 'dist', 'main.js');
const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');

/** A backend named `mine` that takes the trap path, as CommonJS. */
const CJS_BACKEND = `
const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { ipiBackends } = require('@ipilab/hypervisor');
const { TrapAndEmulateBackend } = require('@ipilab/ipi-trap');
module.exports = new ContainerModule((o) => contributePolicy(o, ipiBackends, 'mine', (h, v) => new TrapAndEmulateBackend(h, v)));
`;
/** The same as an ES module: ipilab's packages through createRequire (docs/plugins.md). */
const ESM_BACKEND = `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { ipiBackends } = require('@ipilab/hypervisor');
const { TrapAndEmulateBackend } = require('@ipilab/ipi-trap');
export default new ContainerModule((o) => contributePolicy(o, ipiBackends, 'mine', (h, v) => new TrapAndEmulateBackend(h, v)));
`;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipilab-plugins-'));
  const put = (rel: string, text: string): void => {
    mkdirSync(join(dir, rel, '..'), { recursive: true });
    writeFileSync(join(dir, rel), text);
  };
  put('cjs.js', CJS_BACKEND);
  put('cjs.cjs', CJS_BACKEND);
  put('esm.mjs', ESM_BACKEND);
  put('typed/package.json', '{ "name": "typed", "type": "module", "exports": { ".": { "import": "./lib/main.js" } } }');
  put('typed/lib/main.js', ESM_BACKEND);
  put('node_modules/ipilab-plugin-named/package.json', '{ "name": "ipilab-plugin-named", "main": "lib.js" }');
  put('node_modules/ipilab-plugin-named/lib.js', CJS_BACKEND);
  put('static.mjs', "import { ContainerModule } from 'inversify';\nexport default new ContainerModule(() => {});\n");
  put('tla.mjs', 'await Promise.resolve();\nexport default 1;\n');
  put('nothing.js', 'module.exports = { answer: 42, helper() {} };\n');
  put('callback.js', 'module.exports = (options) => {};\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function ipilab(...argv: string[]): { code: number | null; out: string; err: string } {
  const r = spawnSync(process.execPath, [mainJs, ...argv], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('--plugin loads a plugin from a folder with no node_modules (inversify and @ipilab/* are ipilab\'s own)', () => {
  it.each([
    ['CommonJS (.js)', 'cjs.js'],
    ['CommonJS (.cjs)', 'cjs.cjs'],
    ['an ES module (.mjs)', 'esm.mjs'],
    ['a package folder with "type": "module" and exports', './typed'],
    ['a package name, from the current directory', 'ipilab-plugin-named'],
  ])('%s: run and validate', (_what, plugin) => {
    const run = ipilab('run', small, '--plugin', plugin, '--set', 'hypervisor.backend=mine', '--json');
    expect([run.code, run.err]).toEqual([EXIT.ok, '']);
    expect(JSON.parse(run.out).events).toBeGreaterThan(0);
    const v = ipilab('validate', small, '--plugin', plugin, '--set', 'hypervisor.backend=mine');
    expect([v.code, v.err]).toEqual([EXIT.ok, '']);
  });

  it('without --plugin the name is unknown (so the tests above are about the plugin)', () => {
    const v = ipilab('validate', small, '--set', 'hypervisor.backend=mine');
    expect(v.code).toBe(EXIT.usage);
    expect(v.err).toContain('hypervisor.backend: expected an IPI backend');
  });

  it('is recorded (meta.overrides.plugin, and plugins with the absolute path), and rerun loads it again', () => {
    const run = ipilab('run', small, '--plugin', 'cjs.js', '--set', 'hypervisor.backend=mine', '--json');
    const meta = JSON.parse(run.out).meta;
    expect(meta.overrides.plugin).toEqual(['cjs.js']);
    expect(meta.scenario.plugins).toEqual([join(dir, 'cjs.js')]);
    const file = join(dir, 'run.json');
    writeFileSync(file, run.out);
    const again = spawnSync(process.execPath, [mainJs, 'rerun', file, '--check'], { cwd: tmpdir(), encoding: 'utf8', timeout: 60_000 });
    expect(again.status).toBe(EXIT.ok);
    expect(again.stdout).toContain('reproduced');
  });

  it.each(['run', 'compare', 'sweep', 'trace'])('%s takes --plugin', (cmd) => {
    const extra = cmd === 'compare' ? ['--vary', 'hypervisor.backend=trap,mine'] : cmd === 'sweep' ? ['--grid', 'hypervisor.backend=trap,mine', '--workers', '1', '--csv'] : cmd === 'trace' ? ['--set', 'hypervisor.backend=mine', '--out', join(dir, `${cmd}.trace.json`)] : ['--set', 'hypervisor.backend=mine'];
    const r = ipilab(cmd, small, '--plugin', 'esm.mjs', ...extra);
    expect([r.code, r.err]).toEqual([EXIT.ok, '']);
    if (cmd === 'trace') expect(readFileSync(join(dir, 'trace.trace.json'), 'utf8').length).toBeGreaterThan(0);
  });
});

describe('a plugin that fails: one line naming the --plugin and the file (exit 2 when it cannot be loaded, from validate as from run)', () => {
  const abs = (f: string): string => JSON.stringify(join(dir, f));
  it.each([
    ['not found', 'gone.js', (): string => `--plugin gone.js: plugins[0]: ${abs('gone.js')} not found (looked for ${join(dir, 'gone.js')})\n`],
    ['no ContainerModule among its exports: says what it exports', 'nothing.js', (): string => `--plugin nothing.js: plugins[0]: ${abs('nothing.js')} exports no ContainerModule; it exports answer (a number), helper (a function)\n`],
    [
      'the callback instead of the module made from it',
      'callback.js',
      (): string => `--plugin callback.js: plugins[0]: ${abs('callback.js')} exports no ContainerModule; it exports a function (a function is not one: export new ContainerModule(fn) from inversify)\n`,
    ],
    ['top-level await', 'tla.mjs', (): string => `--plugin tla.mjs: plugins[0]: ${abs('tla.mjs')} uses top-level await, which ipilab cannot load synchronously (load what it awaits inside its ContainerModule or before it is exported)\n`],
    [
      'an ES module importing inversify statically with no node_modules',
      'static.mjs',
      (): string => `--plugin static.mjs: plugins[0]: ${abs('static.mjs')} imports inversify, which an ES module finds only in a node_modules of its own: install it there, or load it with createRequire(import.meta.url) (docs/plugins.md)\n`,
    ],
  ])('%s', (_what, plugin, line) => {
    for (const cmd of ['validate', 'run']) {
      const r = ipilab(cmd, small, '--plugin', plugin);
      expect([r.code, r.err]).toEqual([EXIT.usage, line()]);
      expect(r.out).toBe('');
    }
  });

  it('a package name found neither here nor beside the scenario', () => {
    const r = ipilab('validate', small, '--plugin', 'no-such-plugin');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/^--plugin no-such-plugin: plugins\[0\]: "no-such-plugin" not found \(looked for .*, and for a package no-such-plugin in node_modules folders from .* up\)\n$/);
  });

  it('a name taken by a built-in: names the --plugin\'s file', () => {
    writeFileSync(join(dir, 'trap.js'), CJS_BACKEND.replace("'mine'", "'trap'"));
    const r = ipilab('validate', small, '--plugin', 'trap.js');
    expect([r.code, r.err]).toEqual([EXIT.usage, `--plugin trap.js: plugins[0]: the IPI backend "trap" is registered by ipilab itself and plugins[0] (${join(dir, 'trap.js')}); a plugin must give its policies names of their own\n`]);
  });

  it('throws as it loads', () => {
    writeFileSync(join(dir, 'throws.cjs'), "throw new Error('no licence server');\n");
    const r = ipilab('validate', small, '--plugin', 'throws.cjs');
    expect([r.code, r.err]).toEqual([EXIT.usage, `--plugin throws.cjs: plugins[0]: ${abs('throws.cjs')} failed to load: no licence server\n`]);
  });

  it('an ES module plugin throwing during the run: exit 1, naming it with the simulated time', () => {
    writeFileSync(join(dir, 'boom.mjs'), ESM_BACKEND.replace('(h, v) => new TrapAndEmulateBackend(h, v)', "() => ({ name: 'mine', send() { throw new Error('boom'); } })"));
    const r = ipilab('run', small, '--plugin', 'boom.mjs', '--set', 'hypervisor.backend=mine');
    expect(r.code).toBe(EXIT.runError);
    expect(r.err).toMatch(new RegExp(`^ipilab: plugins\\[0\\] \\(${join(dir, 'boom.mjs').replace(/[.]/g, '\\.')}\\) failed at \\d+ ns: boom\n$`));
  });

  it('a name taken by another plugin: names both', () => {
    const r = ipilab('validate', small, '--plugin', 'cjs.js', '--plugin', 'esm.mjs');
    expect([r.code, r.err]).toEqual([EXIT.usage, `--plugin esm.mjs: plugins[1]: the IPI backend "mine" is registered by plugins[0] (${join(dir, 'cjs.js')}) and plugins[1] (${join(dir, 'esm.mjs')}); a plugin must give its policies names of their own\n`]);
  });
});
