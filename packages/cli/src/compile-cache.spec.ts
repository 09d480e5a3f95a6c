import * as nodeModule from 'node:module';
import { useCompileCache } from './compile-cache';

describe('Node\'s compile cache (useCompileCache)', () => {
  it('on a Node without module.enableCompileCache (Node 20) does nothing and says why', () => {
    expect(useCompileCache({})).toEqual({ enabled: false, reason: expect.stringMatching(/has no compile cache \(Node 22\.1 and later/) });
  });

  it('turns the cache on where Node has it, and reports where it is', () => {
    const calls: unknown[] = [];
    const status = useCompileCache({ enableCompileCache: (...a: unknown[]) => (calls.push(a), { status: 1, directory: '/tmp/node-compile-cache' }) });
    expect(calls).toEqual([[]]); // Node picks the directory (NODE_COMPILE_CACHE, else its temporary folder)
    expect(status).toEqual({ enabled: true, directory: '/tmp/node-compile-cache' });
  });

  it('a cache Node refuses or that throws is reported, never fatal', () => {
    expect(useCompileCache({ enableCompileCache: () => ({ status: 3 }) })).toEqual({ enabled: false, reason: 'disabled by NODE_DISABLE_COMPILE_CACHE' });
    expect(useCompileCache({ enableCompileCache: () => ({ status: 0, message: 'EACCES' }) })).toEqual({ enabled: false, reason: 'EACCES' });
    expect(useCompileCache({ enableCompileCache: () => { throw new Error('boom'); } })).toEqual({ enabled: false, reason: 'boom' });
  });

  it('this Node: enabled exactly when it has module.enableCompileCache', () => {
    const has = typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';
    expect(useCompileCache().enabled).toBe(has && process.env['NODE_DISABLE_COMPILE_CACHE'] === undefined);
  });
});
