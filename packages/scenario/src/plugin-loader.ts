import { existsSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ContainerModule } from 'inversify';
import { describeThrown } from './errors';

/**
 * Finding and loading plugins: a file (CommonJS, or an ES module through Node's require(esm)),
 * a package folder, or a package name, each giving a ContainerModule. Problems come back as one
 * line each, for `plugins[i]: <line>`.
 */

/** The specifiers a plugin in any folder gets from ipilab when it cannot find its own copy. */
const SHARED = /^(?:inversify|reflect-metadata|@ipilab\/([a-z0-9-]+))(?:\/.*)?$/;

/** A package name as npm allows it (`name`, `@scope/name`): resolved from node_modules folders. */
const PACKAGE_NAME = /^(?:@[a-z0-9-~][a-z0-9-._~]*\/)?[a-z0-9-~][a-z0-9-._~]*$/;

/** Whether a plugin entry names a package (`my-plugin`, `@me/plugin`) rather than a path. */
export function isPackageName(spec: string): boolean {
  return PACKAGE_NAME.test(spec) && !/\.[cm]?js$/.test(spec);
}

/** Where a plugin entry was found (its entry file), or where it was looked for. */
export type PluginLocation = { readonly file: string } | { readonly notFound: string };

/**
 * The entry file of a package folder: `exports` ('.', by the node/require/import/default
 * conditions), else `main`, else index.js.
 */
function packageEntry(dir: string): string | undefined {
  const pj = join(dir, 'package.json');
  let pkg: { main?: unknown; exports?: unknown } = {};
  if (existsSync(pj)) {
    try {
      pkg = JSON.parse(readFileSync(pj, 'utf8')) as typeof pkg;
    } catch {
      pkg = {};
    }
  }
  const pick = (x: unknown): string | undefined => {
    if (typeof x === 'string') return x;
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return undefined;
    const o = x as Record<string, unknown>;
    if ('.' in o) return pick(o['.']);
    for (const c of ['node', 'require', 'import', 'default']) if (c in o) return pick(o[c]);
    return undefined;
  };
  for (const rel of [pick(pkg.exports), typeof pkg.main === 'string' ? pkg.main : undefined, 'index.js']) {
    if (rel === undefined) continue;
    const f = resolve(dir, rel);
    for (const c of [f, `${f}.js`, join(f, 'index.js')]) if (existsSync(c) && statSync(c).isFile()) return c;
  }
  return undefined;
}

/**
 * Finds a plugin entry: a path relative to `dir` (a file, or a package folder), else a package
 * name resolved from `dir`'s node_modules folders upwards.
 */
export function locatePlugin(spec: string, dir: string): PluginLocation {
  const path = isAbsolute(spec) ? spec : resolve(dir, spec);
  if (existsSync(path)) {
    if (statSync(path).isFile()) return { file: path };
    const entry = packageEntry(path);
    return entry === undefined ? { notFound: `${path} is a folder with no package.json main, exports or index.js` } : { file: entry };
  }
  if (!isPackageName(spec)) return { notFound: `looked for ${path}` };
  try {
    return { file: require.resolve(spec, { paths: [dir] }) };
  } catch {
    return { notFound: `looked for ${path}, and for a package ${spec} in node_modules folders from ${dir} up` };
  }
}

let fallbackInstalled = false;

/**
 * Lets a plugin in any folder (/tmp/p/my.js, no node_modules) require `inversify`,
 * `reflect-metadata` and `@ipilab/*`: when Node cannot find them from the plugin's folder, they
 * resolve to ipilab's own copies, so there is one inversify and one of each registry. Only those
 * names, and only when normal resolution fails (a plugin's own copy wins). Installed once and
 * left: a plugin may require them lazily, after it was loaded. ES modules' static imports do
 * not go through this resolver (Node 20 has no synchronous resolve hook for require(esm)):
 * docs/plugins.md says how an ES module plugin gets them.
 */
function installSharedFallback(): void {
  if (fallbackInstalled) return;
  fallbackInstalled = true;
  const m = require('node:module') as { _resolveFilename: (request: string, parent: unknown, isMain: boolean, options?: unknown) => string };
  const original = m._resolveFilename;
  m._resolveFilename = function (this: unknown, request, parent, isMain, options) {
    try {
      return original.call(this, request, parent, isMain, options);
    } catch (e) {
      const shared = SHARED.exec(request);
      if (shared === null || (e as NodeJS.ErrnoException).code !== 'MODULE_NOT_FOUND') throw e;
      try {
        return require.resolve(request, { paths: [__dirname] });
      } catch {
        // An @ipilab package this one does not depend on (testing, report): its folder beside this package's.
        if (shared[1] === undefined) throw e;
        return require.resolve(join(__dirname, '..', '..', shared[1], request.slice(`@ipilab/${shared[1]}`.length)));
      }
    }
  };
}

/** Whether a value is a ContainerModule (ours, or duck-typed: a plugin may bring its own copy of inversify). */
function isContainerModule(x: unknown): boolean {
  return x instanceof ContainerModule || (x !== null && typeof x === 'object' && typeof (x as { load?: unknown }).load === 'function' && 'id' in x);
}

/** What a module's exports are, for a user who expected a ContainerModule among them. */
function describeExports(mod: unknown): string {
  const kind = (v: unknown): string =>
    typeof v === 'function' ? (/^class[\s{]/.test(Function.prototype.toString.call(v)) ? 'a class' : 'a function') : v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `a ${typeof v}`;
  if (mod === null || (typeof mod !== 'object' && typeof mod !== 'function')) return `it exports ${describeThrown(mod)}`;
  const names = Object.keys(mod).filter((k) => k !== '__esModule');
  if (names.length === 0) return typeof mod === 'function' ? `it exports ${kind(mod)}` : 'it exports nothing';
  const shown = names.slice(0, 6).map((k) => `${k} (${kind((mod as Record<string, unknown>)[k])})`);
  return `it exports ${shown.join(', ')}${names.length > 6 ? `, and ${names.length - 6} more` : ''}`;
}

/** A loaded plugin, or the one line that says why it could not be. */
export type LoadedPlugin = { readonly module: ContainerModule; readonly file: string } | { readonly problem: string };

/**
 * Loads the plugin `spec` (as the scenario or --plugin wrote it) found from `dir`: its module
 * must export a ContainerModule (as module.exports, default or any named export).
 */
export function loadPlugin(spec: string, dir: string): LoadedPlugin {
  const shown = JSON.stringify(spec);
  const where = locatePlugin(spec, dir);
  if ('notFound' in where) return { problem: `${shown} not found (${where.notFound})` };
  installSharedFallback();
  let mod: unknown;
  try {
    mod = require(where.file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException | null)?.code;
    if (code === 'ERR_REQUIRE_ASYNC_MODULE') return { problem: `${shown} uses top-level await, which ipilab cannot load synchronously (load what it awaits inside its ContainerModule or before it is exported)` };
    const missing = e instanceof Error && code === 'ERR_MODULE_NOT_FOUND' ? /Cannot find (?:package|module) '([^']+)'/.exec(e.message)?.[1] : undefined;
    if (missing !== undefined && SHARED.test(missing))
      return { problem: `${shown} imports ${missing}, which an ES module finds only in a node_modules of its own: install it there, or load it with createRequire(import.meta.url) (docs/plugins.md)` };
    // Whatever it threw: `throw null` in a module's top level is its author's to fix, said as such.
    const why = e instanceof Error ? e.message.split('\n')[0] : `it threw ${describeThrown(e)}, not an Error`;
    return { problem: `${shown} failed to load: ${why}` };
  }
  const m = mod as Record<string, unknown> | null;
  const candidates = m === null || typeof m !== 'object' ? [m] : [m, m['default'], ...Object.values(m)];
  const found = candidates.find(isContainerModule);
  if (found !== undefined) return { module: found as ContainerModule, file: where.file };
  // A module that exports the callback instead of the module made from it is the likeliest slip.
  const main = m === null || typeof m !== 'object' ? m : (m['default'] ?? (Object.keys(m).length === 0 ? undefined : m));
  const fn = typeof main === 'function' && !/^class[\s{]/.test(Function.prototype.toString.call(main));
  return { problem: `${shown} exports no ContainerModule; ${describeExports(mod)}${fn ? ' (a function is not one: export new ContainerModule(fn) from inversify)' : ''}` };
}

/** The entry file of each plugin that can be found (for naming the plugin a stack points into). */
export function pluginFile(spec: string, dir: string): string | undefined {
  const w = locatePlugin(spec, dir);
  return 'file' in w ? w.file : undefined;
}
