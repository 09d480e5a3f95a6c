import { Redis, type RedisOptions } from 'ioredis';

/**
 * `--queue redis://[user:password@]host[:port][/db]` (or `rediss://` for TLS): where a sweep's
 * runs are queued. Parsed before anything else happens, so a bad URL costs no work.
 */
export interface QueueUrl {
  /** As given. */
  readonly text: string;
  /** As shown in messages: the password replaced by `***`. */
  readonly shown: string;
  readonly host: string;
  readonly port: number;
  readonly db: number;
  readonly username?: string;
  readonly password?: string;
  /** rediss://: TLS, the server's certificate checked against the system's CAs. */
  readonly tls: boolean;
}

/** A user's mistake about the queue (a bad URL, an unreachable or unsuitable server, a sweep already queued): one line, exit 2. */
export class QueueUsageError extends Error {}

const EXAMPLE = 'redis://host:port[/db], e.g. redis://127.0.0.1:6379/0 (rediss:// for TLS)';

/** Parses a queue URL; a problem is one line naming `flag`. */
export function parseQueueUrl(text: string, flag = '--queue'): QueueUrl {
  const bad = (why: string): QueueUsageError => new QueueUsageError(`${flag} ${masked(text)}: ${why}`);
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) throw bad(`expected ${EXAMPLE}: a URL starts with redis:// (redis://${masked(text)}?)`);
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw bad(`expected ${EXAMPLE}`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw bad(`expected ${EXAMPLE}; ${u.protocol}// is not a Redis URL`);
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  if (host === '') throw bad(`expected a host: ${EXAMPLE}`);
  const port = u.port === '' ? 6379 : Number(u.port);
  if (port === 0) throw bad('expected a port from 1 to 65535, got 0');
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^(0|[1-9][0-9]{0,4})$/.test(path)) throw bad(`expected a database number after the port (/0, /1, ...), got /${path}`);
  if (u.search !== '' || u.hash !== '') throw bad(`expected nothing after the database number, got ${u.search}${u.hash}`);
  const username = u.username === '' ? undefined : decodeURIComponent(u.username);
  const password = u.password === '' ? undefined : decodeURIComponent(u.password);
  return { text, shown: masked(text), host, port, db: path === '' ? 0 : Number(path), ...(username === undefined ? {} : { username }), ...(password === undefined ? {} : { password }), tls: u.protocol === 'rediss:' };
}

/** The URL with its password (if any) shown as `***`. */
export function masked(text: string): string {
  return text.replace(/^([a-z]+:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}

/** ioredis options for a queue URL; `extra` over them. */
export function redisOptions(u: QueueUrl, extra: RedisOptions = {}): RedisOptions {
  return {
    host: u.host,
    port: u.port,
    db: u.db,
    ...(u.username === undefined ? {} : { username: u.username }),
    ...(u.password === undefined ? {} : { password: u.password }),
    ...(u.tls ? { tls: { servername: u.host } } : {}),
    connectionName: 'ipilab',
    ...extra,
  };
}

/** How long a first connection may take before the URL is judged unreachable (the issue asks for an answer within 5 s). */
export const CONNECT_TIMEOUT_MS = 3_000;

/** The lowest Redis BullMQ runs on (its RedisConnection.minimumVersion). */
const MIN_REDIS = [5, 0, 0];

/**
 * Connects to the queue's Redis once, without retrying, and checks it can hold a queue: it
 * answers, the credentials are right, its version is one BullMQ runs on (>= 5.0), and it does not
 * evict keys when full (BullMQ needs maxmemory-policy noeviction: an evicted job is a run lost
 * without a word). Any problem is a QueueUsageError within CONNECT_TIMEOUT_MS and a little more.
 * Resolves to a connection for the queue: reconnecting on its own from then on, as BullMQ needs.
 */
export async function connectQueue(u: QueueUrl, flag = '--queue'): Promise<Redis> {
  const probe = client(redisOptions(u, { disconnectTimeout: 50, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false }));
  // The socket's own error (ECONNREFUSED, ENOTFOUND...) comes as an 'error' event; the promise
  // rejects with only "Connection is closed". The event says why.
  let cause: unknown;
  probe.on('error', (e) => (cause ??= e));
  // One deadline for the whole check: a server that accepts the connection and never answers
  // (a wrong port behind a proxy, a Redis stuck loading) must not hang the command. Its end
  // closes the probe, which ends the check under way.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new QueueUsageError(`${flag} ${u.shown}: no answer within ${CONNECT_TIMEOUT_MS / 1000} s: is the host reachable, the port open, and Redis listening there?`));
      probe.disconnect();
    }, CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([check(probe, u, flag, () => cause), deadline]);
  } finally {
    clearTimeout(timer);
    probe.disconnect();
  }
  const conn = client(redisOptions(u, { connectTimeout: CONNECT_TIMEOUT_MS, maxRetriesPerRequest: null }));
  conn.on('error', () => undefined);
  return conn;
}

/**
 * Says, once per outage, when a connection to the queue's Redis is lost and when it is back
 * (ioredis reconnects on its own; until then the queue waits). Returns a function that stops it.
 */
export function watchConnection(conn: Redis, u: QueueUrl, say: (line: string) => void): () => void {
  let down = false;
  const lost = (): void => {
    if (down) return;
    down = true;
    say(`lost the connection to Redis at ${u.shown}: reconnecting (nothing is lost; the queue waits until Redis is back)`);
  };
  const back = (): void => {
    if (!down) return;
    down = false;
    say(`reconnected to Redis at ${u.shown}`);
  };
  conn.on('reconnecting', lost);
  conn.on('ready', back);
  return () => {
    conn.off('reconnecting', lost);
    conn.off('ready', back);
  };
}

/** connectQueue's checks on its probe connection. */
async function check(probe: Redis, u: QueueUrl, flag: string, cause: () => unknown): Promise<void> {
  const say = (why: string): QueueUsageError => new QueueUsageError(`${flag} ${u.shown}: ${why}`);
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    throw say(unreachable(cause() ?? e));
  }
  // ioredis selects the database as it connects but goes on in database 0 when it cannot.
  try {
    await probe.select(u.db);
  } catch (e) {
    throw say(`Redis has no database ${u.db} (${(e as Error).message.split('\n')[0]}): its databases are numbered from 0 to its \`databases\` setting less one`);
  }
  const info = await probe.info('server');
  const version = /redis_version:([0-9.]+)/.exec(info)?.[1];
  if (version !== undefined && olderThan(version.split('.').map(Number), MIN_REDIS)) throw say(`Redis ${version} is too old for the queue (BullMQ needs Redis >= ${MIN_REDIS.join('.')})`);
  let policy: string | undefined;
  try {
    policy = ((await probe.config('GET', 'maxmemory-policy')) as string[])[1];
  } catch {
    // A managed Redis may refuse CONFIG: its policy is its operator's to set (docs/scale-out.md).
  }
  if (policy !== undefined && policy !== 'noeviction') throw say(`Redis evicts keys when full (maxmemory-policy ${policy}), which could drop queued runs without a word: set maxmemory-policy noeviction (docs/scale-out.md)`);
}

/**
 * A client for these options. ioredis 6 declares its options with optional fields that
 * exactOptionalPropertyTypes (on here) reads as not accepting what its own RedisOptions type
 * allows; the options are built in redisOptions alone.
 */
function client(options: RedisOptions): Redis {
  return new Redis(options as never);
}

/** Whether version `a` comes before `b` (each a list of numbers, major first). */
function olderThan(a: readonly number[], b: readonly number[]): boolean {
  for (let i = 0; i < b.length; i++) if ((a[i] ?? 0) !== b[i]) return (a[i] ?? 0) < b[i]!;
  return false;
}

/** Why a first connection failed, in the user's terms. */
function unreachable(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (/WRONGPASS|invalid username-password|NOAUTH|AUTH/i.test(m)) return `Redis refused the credentials (${m.split('\n')[0]}): give user:password in the URL (docs/scale-out.md)`;
  if (code === 'ECONNREFUSED') return 'nothing listens there (connection refused): is redis-server running on that host and port?';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'no such host';
  if (/ETIMEDOUT|timeout/i.test(`${code} ${m}`)) return `no answer within ${CONNECT_TIMEOUT_MS / 1000} s: is the host reachable, and the port open?`;
  if (/Unknown RESP|Protocol error/i.test(m)) return 'something answers there, but not Redis (its reply is not in the Redis protocol): is that the Redis port?';
  if (/DB index|invalid DB|out of range/i.test(m)) return `Redis has no such database (${m.split('\n')[0]})`;
  return `cannot reach Redis: ${m.split('\n')[0]}`;
}
