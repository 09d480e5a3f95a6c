import * as nodeModule from 'node:module';

/** What `useCompileCache` found: the cache on (and where), or why not. */
export type CompileCacheStatus = { readonly enabled: true; readonly directory: string } | { readonly enabled: false; readonly reason: string };

type EnableCompileCache = (dir?: string) => { status: number; message?: string; directory?: string };

/**
 * Turns on Node's on-disk compile cache for the modules this process loads from now on (Node
 * 22.1 and later: `module.enableCompileCache`): a one-off run then skips parsing and compiling
 * ipilab's ~600 modules (the model, zod, YAML, inversify, RxJS) after the first. Node picks the
 * directory (NODE_COMPILE_CACHE, else its folder in the OS's temporary directory) and honours
 * NODE_DISABLE_COMPILE_CACHE=1. Node 20 has no such cache: there this does nothing.
 */
export function useCompileCache(mod: { enableCompileCache?: EnableCompileCache } = nodeModule as unknown as { enableCompileCache?: EnableCompileCache }): CompileCacheStatus {
  const enable = mod.enableCompileCache;
  if (typeof enable !== 'function') return { enabled: false, reason: `Node ${process.version} has no compile cache (Node 22.1 and later have one)` };
  try {
    const r = enable();
    // constants.compileCacheStatus: 0 FAILED, 1 ENABLED, 2 ALREADY_ENABLED, 3 DISABLED.
    if ((r.status === 1 || r.status === 2) && r.directory !== undefined) return { enabled: true, directory: r.directory };
    return { enabled: false, reason: r.message ?? (r.status === 3 ? 'disabled by NODE_DISABLE_COMPILE_CACHE' : 'Node could not enable it') };
  } catch (e) {
    return { enabled: false, reason: e instanceof Error ? e.message : String(e) };
  }
}
