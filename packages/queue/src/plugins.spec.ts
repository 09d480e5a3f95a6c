import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import fc from 'fast-check';
import { localScenario, packFiles, packPlugin, unpackedBundle, unpackFiles, type PluginRef } from './index';
import type { LoadedScenario } from '@ipilab/scenario';

const scratch = (): string => mkdtempSync(join(tmpdir(), 'ipilab-pack-'));
const FIXTURES = resolve(__dirname, '..', '..', 'scenario', 'test', 'fixtures');
const EXAMPLES = resolve(__dirname, '..', '..', '..', 'examples', 'plugins');

/** The files of a packed plugin, by path. */
function filesOf(bundle: { data: Buffer; sha256: string }): Map<string, string> {
  return new Map(unpackFiles(bundle.data, bundle.sha256).map(([rel, d]) => [rel, d.toString('utf8')]));
}

describe('shipping plugins with a queued sweep', () => {
  it('a file with no package.json beside it travels alone', () => {
    const p = packPlugin(0, './plugin-broken-backend.js', FIXTURES);
    expect(p.ref).toMatchObject({ index: 0, spec: './plugin-broken-backend.js', entry: 'plugin-broken-backend.js' });
    expect([...filesOf(p.bundle!).keys()]).toEqual(['plugin-broken-backend.js']);
  });

  it('a package folder travels whole, links followed, with ipilab\'s own packages left out', () => {
    // site-calibration reads its site/ files at run time and links zod, inversify and @ipilab/* (npm install of file: deps).
    const dir = join(EXAMPLES, 'site-calibration');
    const p = packPlugin(2, dir, '/');
    const files = filesOf(p.bundle!);
    expect(p.ref).toMatchObject({ index: 2, entry: 'index.js' });
    expect(files.get('index.js')).toBe(readFileSync(join(dir, 'index.js'), 'utf8'));
    expect(files.has('site/lab-costs.json')).toBe(true);
    const shipped = [...files.keys()];
    if (existsSync(join(dir, 'node_modules', 'zod'))) expect(shipped.some((f) => f.startsWith('node_modules/zod/'))).toBe(true);
    expect(shipped.filter((f) => /^node_modules\/(inversify|reflect-metadata|@ipilab)\//.test(f))).toEqual([]);
  });

  it('a link cycle is followed once; .git is left out', () => {
    const d = scratch();
    writeFileSync(join(d, 'package.json'), '{"name":"p","main":"main.js"}');
    writeFileSync(join(d, 'main.js'), 'module.exports = 1;');
    mkdirSync(join(d, 'lib'));
    writeFileSync(join(d, 'lib', 'a.js'), 'a');
    symlinkSync(d, join(d, 'lib', 'loop'));
    mkdirSync(join(d, '.git'));
    writeFileSync(join(d, '.git', 'HEAD'), 'x');
    const files = filesOf(packPlugin(0, d, '/').bundle!);
    expect([...files.keys()].sort()).toEqual(['lib/a.js', 'main.js', 'package.json']);
  });

  it('a plugin too big to ship is refused before anything is queued, naming it', () => {
    const d = scratch();
    writeFileSync(join(d, 'index.js'), 'module.exports = 1;');
    writeFileSync(join(d, 'package.json'), '{}');
    writeFileSync(join(d, 'big.bin'), Buffer.alloc(65 * 1024 * 1024));
    expect(() => packPlugin(1, d, '/')).toThrow(`plugins[1]: ${JSON.stringify(d)} is more than a queued sweep ships to its workers (64 MiB in 20000 files, with its node_modules): install it on every worker as a package and name it by its package name (docs/scale-out.md)`);
  });

  it('a package name is not shipped: the job names the package and its version', () => {
    const d = scratch();
    mkdirSync(join(d, 'node_modules', 'my-plugin'), { recursive: true });
    writeFileSync(join(d, 'node_modules', 'my-plugin', 'package.json'), '{"name":"my-plugin","version":"1.2.3"}');
    writeFileSync(join(d, 'node_modules', 'my-plugin', 'index.js'), 'module.exports = 1;');
    expect(packPlugin(0, 'my-plugin', d)).toEqual({ ref: { index: 0, spec: 'my-plugin', package: 'my-plugin', version: '1.2.3' } });
  });

  it('packing is a law: what is unpacked is what was packed, and the hash names the content', () => {
    const path = fc.array(fc.stringMatching(/^[a-z0-9_.-]{1,8}$/).filter((s) => s !== '.' && s !== '..'), { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(path, fc.uint8Array({ maxLength: 64 })), { selector: ([p]) => p, maxLength: 6 }), (entries) => {
        // A path cannot be both a file and a folder.
        fc.pre(entries.every(([a]) => entries.every(([b]) => !b.startsWith(`${a}/`))));
        const files = entries.map(([p, d]): [string, Buffer] => [p, Buffer.from(d)]);
        const b = packFiles(files);
        expect(unpackFiles(b.data, b.sha256)).toEqual([...files]);
        expect(packFiles([...files].reverse()).sha256).toBe(b.sha256);
        if (files.length > 0) {
          const changed = files.map(([p, d], i): [string, Buffer] => [p, i === 0 ? Buffer.concat([d, Buffer.from([1])]) : d]);
          expect(packFiles(changed).sha256).not.toBe(b.sha256);
          expect(() => unpackFiles(packFiles(changed).data, b.sha256)).toThrow('do not match their sha256');
        }
      }),
    );
  });

  it('a worker unpacks a bundle once into its cache and loads the plugin from there; a path leaving the folder is refused', async () => {
    const p = packPlugin(0, './plugin-broken-backend.js', FIXTURES);
    const cache = scratch();
    let fetched = 0;
    const fetch = async (): Promise<Buffer> => (fetched++, p.bundle!.data);
    const dir = await unpackedBundle(p.bundle!.sha256, fetch, cache);
    expect(await unpackedBundle(p.bundle!.sha256, fetch, cache)).toBe(dir);
    expect(fetched).toBe(1);
    const loaded = { scenario: { plugins: ['./plugin-broken-backend.js'] }, dir: '/coordinator/only', file: '/coordinator/only/s.yaml' } as unknown as LoadedScenario;
    const here = await localScenario(loaded, [p.ref], (sha) => unpackedBundle(sha, fetch, cache), [cache]);
    expect(here.scenario.plugins).toEqual([join(dir, 'plugin-broken-backend.js')]);
    expect(readFileSync(here.scenario.plugins[0]!, 'utf8')).toBe(readFileSync(join(FIXTURES, 'plugin-broken-backend.js'), 'utf8'));
    const evil = packFiles([['../escape.js', Buffer.from('x')]]);
    expect(() => unpackFiles(evil.data, evil.sha256)).toThrow('name a path outside its folder: ../escape.js');
    await expect(unpackedBundle('0'.repeat(64), async () => null, cache)).rejects.toThrow('are no longer in Redis');
  });

  it('a package plugin missing on the worker, or in another version, is one line naming it', async () => {
    const loaded = { scenario: { plugins: ['my-plugin'] }, dir: '/coordinator', file: '/coordinator/s.yaml' } as unknown as LoadedScenario;
    const ref: PluginRef = { index: 0, spec: 'my-plugin', package: 'my-plugin', version: '1.2.3' };
    const installed = (version: string): string => {
      const d = scratch();
      mkdirSync(join(d, 'node_modules', 'my-plugin'), { recursive: true });
      writeFileSync(join(d, 'node_modules', 'my-plugin', 'package.json'), `{"name":"my-plugin","version":"${version}"}`);
      writeFileSync(join(d, 'node_modules', 'my-plugin', 'index.js'), 'module.exports = 1;');
      return d;
    };
    const none = scratch();
    await expect(localScenario(loaded, [ref], async () => '', [none])).rejects.toThrow(`plugins[0] (my-plugin) is not installed on this worker (looked in node_modules folders from ${none}): install my-plugin@1.2.3 there`);
    await expect(localScenario(loaded, [ref], async () => '', [installed('1.2.4')])).rejects.toThrow("plugins[0] (my-plugin) is version 1.2.4 on this worker, the sweep's is 1.2.3: install my-plugin@1.2.3 there");
    const good = installed('1.2.3');
    expect((await localScenario(loaded, [ref], async () => '', [good])).scenario.plugins).toEqual([join(good, 'node_modules', 'my-plugin', 'index.js')]);
  });
});
