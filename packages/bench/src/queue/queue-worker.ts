import { BENCH_IPILAB } from './queued-sweep';

/** A queue worker process for the bench: `ipilab worker --queue URL --concurrency 1`, with the bench's ipilab version. */
async function main(): Promise<void> {
  const q = require('@ipilab/queue') as typeof import('@ipilab/queue');
  const url = q.parseQueueUrl(process.argv[2] ?? '');
  const connection = await q.connectQueue(url);
  const never = new AbortController();
  await q.runQueueWorker({ url, connection, ipilab: BENCH_IPILAB, concurrency: 1, log: (line) => void process.stderr.write(`${line}\n`), stop: never.signal });
}

void main();
