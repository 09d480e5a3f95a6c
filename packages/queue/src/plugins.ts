import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { isPackageName, locatePlugin, type LoadedScenario } from '@ipilab/scenario';
import { QueueUsageError } from './url';
import type { PluginRef } from './protocol';

/**
 * Plugins travel with a queued sweep. A plugin given as a path (a file, or a package folder) is
 * shipped: its files go into Redis once, by content hash, and each worker unpacks them into its
 * cache and loads them from there, so a worker needs no copy of the user's plugin. A plugin given
 * by package name is not shipped: the worker must have that package installed, in the same
 * version (checked), as it must have ipilab itself.
 */

/** The most a shipped plugin may weigh (its files, before compression). */
export const MAX_PLUGIN_BYTES = 64 * 1024 * 1024;
/** The most files a shipped plugin may have. */
export const MAX_PLUGIN_FILES = 20_000;

/**
 * Packages a plugin finds in ipilab when it has no copy of its own (plugin-loader.ts): not shipped
 * from its node_modules, so that on the worker it shares ipilab's (one inversify, one registry
 * per family), as it does on the coordinator when they are links to ipilab's, as in its examples.
 */
const SHARED = /^node_modules\/(?:inversify|reflect-metadata|@ipilab)(?:\/|$)/;

/** A plugin's files, packed: the gzipped JSON `{ files: [[path, base64]...] }` and its sha256. */
export interface PluginBundle {
  readonly sha256: string;
  readonly data: Buffer;
}

/** What a plugin entry becomes for the queue: the job's reference to it, and its bundle when shipped. */
export interface PackedPlugin {
  readonly ref: PluginRef;
  readonly bundle?: PluginBundle;
}

/**
 * Packs plugin `index` of a scenario (its `spec` as written, found from `dir`). A path plugin's
 * root is the folder it names, or for a file, the file's folder when that is a package (has a
 * package.json) and the file alone otherwise. Links are followed, but once each (a cycle is cut);
 * `.git` and the packages SHARED names are left out.
 */
export function packPlugin(index: number, spec: string, dir: string): PackedPlugin {
  const key = `plugins[${index}]`;
  const where = locatePlugin(spec, dir);
  if ('notFound' in where) throw new QueueUsageError(`${key}: ${JSON.stringify(spec)} not found (${where.notFound})`);
  const path = isAbsolute(spec) ? spec : resolve(dir, spec);
  if (!existsSync(path) && isPackageName(spec)) {
    const pkg = packageOf(where.file, spec);
    return { ref: { index, spec, package: spec, version: pkg.version } };
  }
  const root = statSync(path).isDirectory() ? path : existsSync(join(dirname(path), 'package.json')) ? dirname(path) : path;
  const files: [string, Buffer][] = [];
  let bytes = 0;
  const tooBig = (): QueueUsageError =>
    new QueueUsageError(`${key}: ${JSON.stringify(spec)} is more than a queued sweep ships to its workers (${MAX_PLUGIN_BYTES / 1024 / 1024} MiB in ${MAX_PLUGIN_FILES} files, with its node_modules): install it on every worker as a package and name it by its package name (docs/scale-out.md)`);
  const add = (file: string, rel: string): void => {
    const data = readFileSync(file);
    bytes += data.length;
    files.push([rel, data]);
    if (bytes > MAX_PLUGIN_BYTES || files.length > MAX_PLUGIN_FILES) throw tooBig();
  };
  if (!statSync(root).isDirectory()) add(root, basename(root));
  else {
    const seen = new Set<string>();
    const walk = (abs: string, rel: string): void => {
      const real = realpathSync(abs);
      if (seen.has(real)) return;
      seen.add(real);
      for (const name of readdirSync(abs).sort()) {
        const a = join(abs, name);
        const r = rel === '' ? name : `${rel}/${name}`;
        if (name === '.git' || SHARED.test(r)) continue;
        const st = lstatSync(a).isSymbolicLink() ? safeStat(a) : lstatSync(a);
        if (st === undefined) continue; // a dangling link
        if (st.isDirectory()) walk(a, r);
        else if (st.isFile()) add(a, r);
      }
    };
    walk(root, '');
  }
  const entry = statSync(root).isDirectory() ? relative(root, where.file).split(sep).join('/') : basename(root);
  const bundle = packFiles(files);
  return { ref: { index, spec, bundle: bundle.sha256, entry }, bundle };
}

function safeStat(p: string): ReturnType<typeof statSync> | undefined {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** The sha256 of a list of files: each path, its length and its bytes, in path order. */
function filesSha256(files: readonly (readonly [string, Buffer])[]): string {
  const h = createHash('sha256');
  for (const [rel, data] of [...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) h.update(`${rel}\0${data.length}\0`).update(data);
  return h.digest('hex');
}

/** Packs files (path relative to the plugin's root, with `/`, and bytes). */
export function packFiles(files: readonly (readonly [string, Buffer])[]): PluginBundle {
  const sha256 = filesSha256(files);
  const data = gzipSync(JSON.stringify({ files: files.map(([rel, d]) => [rel, d.toString('base64')]) }));
  return { sha256, data };
}

/** Unpacks a bundle's files, checking them against the sha256 they were stored under. */
export function unpackFiles(data: Buffer, sha256: string): [string, Buffer][] {
  const doc = JSON.parse(gunzipSync(data).toString('utf8')) as { files: [string, string][] };
  const files = doc.files.map(([rel, b64]): [string, Buffer] => [rel, Buffer.from(b64, 'base64')]);
  if (filesSha256(files) !== sha256) throw new Error(`the plugin's files in Redis do not match their sha256 ${sha256.slice(0, 12)}`);
  for (const [rel] of files) if (rel.split('/').some((s) => s === '..' || s === '') || isAbsolute(rel)) throw new Error(`the plugin's files in Redis name a path outside its folder: ${rel}`);
  return files;
}

/** Where a worker keeps unpacked plugins: $IPILAB_CACHE_DIR, else $XDG_CACHE_HOME/ipilab, else ~/.cache/ipilab. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['IPILAB_CACHE_DIR'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'ipilab');
}

/**
 * The folder holding a bundle's files on this machine, unpacked on first use (`fetch` gets its
 * data from Redis). Written beside and renamed into place, so a worker never loads a half-written
 * plugin and two workers unpacking it at once both end with one copy.
 */
export async function unpackedBundle(sha256: string, fetch: () => Promise<Buffer | null>, root: string = cacheDir()): Promise<string> {
  const dir = join(root, 'plugins', sha256);
  if (existsSync(dir)) return dir;
  const data = await fetch();
  if (data === null) throw new Error(`its files (sha256 ${sha256.slice(0, 12)}) are no longer in Redis: the sweep's coordinator queues them again when it is resumed`);
  const files = unpackFiles(data, sha256);
  const tmp = `${dir}.${process.pid}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  for (const [rel, d] of files) {
    const f = join(tmp, ...rel.split('/'));
    mkdirSync(dirname(f), { recursive: true });
    writeFileSync(f, d);
  }
  mkdirSync(dirname(dir), { recursive: true });
  try {
    renameSync(tmp, dir);
  } catch (e) {
    // Another worker on this machine unpacked it first: theirs is the same files.
    rmSync(tmp, { recursive: true, force: true });
    if (!existsSync(dir)) throw e;
  }
  return dir;
}

/** The installed package (name, version) a package plugin resolved to, from the package.json above its entry file. */
export function packageOf(entry: string, name: string): { dir: string; version: string } {
  for (let d = dirname(entry); ; d = dirname(d)) {
    const pj = join(d, 'package.json');
    if (existsSync(pj)) {
      try {
        const pkg = JSON.parse(readFileSync(pj, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === name) return { dir: d, version: typeof pkg.version === 'string' ? pkg.version : '(no version)' };
      } catch {
        // not this one
      }
    }
    if (dirname(d) === d) return { dir: dirname(entry), version: '(no version)' };
  }
}

/**
 * A run's scenario as this worker loads it: each plugin named by where it is here (an unpacked
 * bundle's entry file, or the installed package's entry file). A package missing here, or in
 * another version, is an Error naming the plugin.
 */
export async function localScenario(loaded: LoadedScenario, refs: readonly PluginRef[], bundleDir: (sha256: string) => Promise<string>, searchFrom: readonly string[]): Promise<LoadedScenario> {
  const plugins = [...loaded.scenario.plugins];
  for (const ref of refs) {
    const key = `plugins[${ref.index}] (${ref.spec})`;
    if ('bundle' in ref) {
      let dir: string;
      try {
        dir = await bundleDir(ref.bundle);
      } catch (e) {
        throw new Error(`${key} could not be unpacked on this worker: ${(e as Error).message}`);
      }
      plugins[ref.index] = join(dir, ...ref.entry.split('/'));
    } else {
      let file: string | undefined;
      for (const from of searchFrom) {
        const w = locatePlugin(ref.package, from);
        if ('file' in w) {
          file = w.file;
          break;
        }
      }
      if (file === undefined) throw new Error(`${key} is not installed on this worker (looked in node_modules folders from ${searchFrom.join(' and ')}): install ${ref.package}@${ref.version} there`);
      const here = packageOf(file, ref.package).version;
      if (here !== ref.version) throw new Error(`${key} is version ${here} on this worker, the sweep's is ${ref.version}: install ${ref.package}@${ref.version} there`);
      plugins[ref.index] = file;
    }
  }
  return { ...loaded, scenario: { ...loaded.scenario, plugins } };
}
