import { createServer } from 'node:net';
import { connectQueue, freePort, masked, parseQueueUrl, QueueUsageError } from './index';

describe('--queue URLs', () => {
  it('takes redis:// and rediss:// with host, port, database and credentials', () => {
    expect(parseQueueUrl('redis://127.0.0.1:6390/2')).toMatchObject({ host: '127.0.0.1', port: 6390, db: 2, tls: false, shown: 'redis://127.0.0.1:6390/2' });
    expect(parseQueueUrl('redis://q')).toMatchObject({ host: 'q', port: 6379, db: 0 });
    expect(parseQueueUrl('rediss://ipilab:s%40cret@q:6380/')).toMatchObject({ host: 'q', port: 6380, db: 0, username: 'ipilab', password: 's@cret', tls: true, shown: 'rediss://ipilab:***@q:6380/' });
    expect(parseQueueUrl('redis://[::1]:7000')).toMatchObject({ host: '::1', port: 7000 });
  });

  it.each([
    ['http://q', '--queue http://q: expected redis://host:port[/db], e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS); http:// is not a Redis URL'],
    ['127.0.0.1:6379', '--queue 127.0.0.1:6379: expected redis://host:port[/db], e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS): a URL starts with redis:// (redis://127.0.0.1:6379?)'],
    ['q:6379', '--queue q:6379: expected redis://host:port[/db], e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS): a URL starts with redis:// (redis://q:6379?)'],
    ['redis://q:99999', '--queue redis://q:99999: expected redis://host:port[/db], e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)'],
    ['redis://q:0', '--queue redis://q:0: expected a port from 1 to 65535, got 0'],
    ['redis://q/x', '--queue redis://q/x: expected a database number after the port (/0, /1, ...), got /x'],
    ['redis://:pw@q/1/2', '--queue redis://:***@q/1/2: expected a database number after the port (/0, /1, ...), got /1/2'],
    ['redis://q/1?tls=1', '--queue redis://q/1?tls=1: expected nothing after the database number, got ?tls=1'],
    ['redis://', '--queue redis://: expected a host: redis://host:port[/db], e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)'],
  ])('%s is refused in one line naming the flag (the password hidden)', (url, message) => {
    expect(() => parseQueueUrl(url)).toThrow(QueueUsageError);
    expect(() => parseQueueUrl(url)).toThrow(message);
  });

  it('never shows a password', () => {
    expect(masked('redis://user:hunter2@h:1/0')).toBe('redis://user:***@h:1/0');
    expect(masked('redis://:hunter2@h')).toBe('redis://:***@h');
    expect(masked('redis://h:1')).toBe('redis://h:1');
  });
});

describe('reaching Redis', () => {
  it('nothing listening: one line saying so, well within 5 s', async () => {
    // A port just freed: nothing listens there.
    const port = await freePort();
    const t0 = performance.now();
    await expect(connectQueue(parseQueueUrl(`redis://127.0.0.1:${port}`))).rejects.toThrow(`--queue redis://127.0.0.1:${port}: nothing listens there (connection refused): is redis-server running on that host and port?`);
    expect(performance.now() - t0).toBeLessThan(5000);
  });

  it('something that is not Redis: one line saying so', async () => {
    const s = createServer((c) => c.end('HTTP/1.1 400 Bad Request\r\n\r\n'));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    try {
      await expect(connectQueue(parseQueueUrl(`redis://127.0.0.1:${port}`))).rejects.toThrow(`--queue redis://127.0.0.1:${port}: something answers there, but not Redis`);
    } finally {
      s.close();
    }
  });

  it('a server that never answers: one line within the connect timeout, under 5 s', async () => {
    // Accepts the connection and says nothing.
    const held: import('node:net').Socket[] = [];
    const s = createServer((c) => void held.push(c));
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const port = (s.address() as { port: number }).port;
    const t0 = performance.now();
    try {
      await expect(connectQueue(parseQueueUrl(`redis://127.0.0.1:${port}`))).rejects.toThrow(`--queue redis://127.0.0.1:${port}: no answer within 3 s: is the host reachable, the port open, and Redis listening there?`);
      expect(performance.now() - t0).toBeLessThan(5000);
    } finally {
      for (const c of held) c.destroy();
      s.close();
    }
  }, 10_000);
});
