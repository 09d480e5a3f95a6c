import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, small } from '../test/run-cli';
import { EXIT } from './main';
import { freePort as deadPort } from '@ipilab/queue';

describe('--queue and ipilab worker: mistakes cost no work', () => {
  it('a bad URL is one line, exit 2, before the scenario is read, nothing written', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ipilab-q-')), 'out');
    const r = await cli('sweep', '/no/such/scenario.yaml', '--grid', 'vms[0].vcpus=2,4', '--queue', 'redis://:pw@q:6379/x', '--out', out);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('ipilab: --queue redis://:***@q:6379/x: expected a database number after the port (/0, /1, ...), got /x\n');
    expect(existsSync(out)).toBe(false);
  });

  it('an unreachable Redis is one line, exit 2, within 5 s, nothing written', async () => {
    const port = await deadPort();
    const out = join(mkdtempSync(join(tmpdir(), 'ipilab-q-')), 'out');
    const r = await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--queue', `redis://127.0.0.1:${port}`, '--out', out);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe(`ipilab: --queue redis://127.0.0.1:${port}: nothing listens there (connection refused): is redis-server running on that host and port?\n`);
    expect(r.ms).toBeLessThan(5000);
    expect(existsSync(out)).toBe(false);
  });

  it('--workers is refused with --queue, naming both', async () => {
    const r = await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--queue', 'redis://127.0.0.1:1', '--workers', '2');
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe('ipilab: --workers: not with --queue: each worker takes as many runs at once as its own --concurrency says\n');
  });

  it('--resume with --queue needs no --out (the finished runs are in Redis)', async () => {
    const port = await deadPort();
    const r = await cli('sweep', small, '--grid', 'vms[0].vcpus=2,4', '--queue', `redis://127.0.0.1:${port}`, '--resume');
    expect(r.err).not.toContain('--resume: expected --out dir');
    expect(r.err).toContain('nothing listens there');
  });

  it.each([
    [['--concurrency', '0'], 'ipilab: --concurrency: expected a whole number of runs at once from 1 to 1024, got "0"\n'],
    [['--concurrency', 'two'], 'ipilab: --concurrency: expected a whole number of runs at once from 1 to 1024, got "two"\n'],
    [['--stalled-after', '200ms'], 'ipilab: --stalled-after: expected at least 1s (a worker renews its hold at half of it), got "200ms"\n'],
    [['--stalled-after', 'soon'], 'ipilab: --stalled-after: expected a positive duration of at most 24 days, such as 90s, 10m or 1h, got "soon"\n'],
    [['--exit-when-idle', 'never'], 'ipilab: --exit-when-idle: expected a positive duration of at most 24 days, such as 90s, 10m or 1h, got "never"\n'],
  ])('worker %j: one line, exit 2', async (flags, err) => {
    const r = await cli('worker', '--queue', 'redis://127.0.0.1:1', ...flags);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toBe(err);
  });

  it('sweeps with a bad URL, or an unreachable Redis: one line, exit 2', async () => {
    const bad = await cli('sweeps', '--queue', 'redis://q:0');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toBe('ipilab: --queue redis://q:0: expected a port from 1 to 65535, got 0\n');
    const port = await deadPort();
    const dead = await cli('sweeps', '--queue', `redis://127.0.0.1:${port}`, '--drop', 'x');
    expect(dead.code).toBe(EXIT.usage);
    expect(dead.err).toBe(`ipilab: --queue redis://127.0.0.1:${port}: nothing listens there (connection refused): is redis-server running on that host and port?\n`);
  });

  it('worker without --queue, or with a bad one: one line, exit 2', async () => {
    const none = await cli('worker');
    expect(none.code).toBe(EXIT.usage);
    expect(none.err).toContain("required option '--queue <redis://host:port[/db]>' not specified");
    const bad = await cli('worker', '--queue', 'localhost:6379');
    expect(bad.code).toBe(EXIT.usage);
    expect(bad.err).toBe('ipilab: --queue localhost:6379: expected redis://host:port[/db], e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS): a URL starts with redis:// (redis://localhost:6379?)\n');
  });
});
