import { parentPort, workerData } from 'node:worker_threads';
import { main } from './main';
import type { WatchdogMessage } from './watchdog';

/**
 * The thread `--timeout` runs a command on (watchdog.ts): the same command line, its output sent
 * to the main thread in order. 'timeout', 'SIGINT' and 'SIGTERM' from the main thread stop a sweep
 * as Ctrl-C does (signals themselves reach only the main thread).
 */
const data = workerData as { argv: string[]; tty: boolean; columns?: number };
const port = parentPort!;
const send = (m: WatchdogMessage): void => port.postMessage(m);
const stop = new AbortController();
port.on('message', (m: 'timeout' | 'SIGINT' | 'SIGTERM') => {
  if (!stop.signal.aborted) stop.abort(m);
});
const err = {
  isTTY: data.tty,
  ...(data.columns === undefined ? {} : { columns: data.columns }),
  write(s: string | Uint8Array): boolean {
    send({ err: String(s) });
    return true;
  },
};
void main(data.argv, (s) => send({ out: s }), err, undefined, { watched: stop.signal }).then((code) => send({ exit: code }));
