import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

describe('the RxJS the accounting loads', () => {
  it('is the few modules it uses, not RxJS\'s index and its ~220 modules (0.1 s of every one-off run)', () => {
    // The built package, in a fresh process, as the CLI loads it (npm test builds first).
    const dist = join(__dirname, '..', 'dist', 'index.js');
    const script = `require(${JSON.stringify(dist)}); process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((f) => /[\\\\/]rxjs[\\\\/]/.test(f))));`;
    const loaded = JSON.parse(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' })) as string[];
    expect(loaded.length).toBeGreaterThan(0);
    expect(loaded.filter((f) => /[\\/]dist[\\/]cjs[\\/]index\.js$/.test(f))).toEqual([]);
    expect(loaded.length).toBeLessThan(40);
  });
});
