import { join } from 'node:path';
import { main } from '../src/main';
import type { ProgressStream, WallClock } from '../src/progress';

export const FIX = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures');
export const small = join(FIX, 'small.yaml');

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** Wall ms the command took. */
  readonly ms: number;
}

/** Runs the CLI in-process, capturing stdout and stderr (a plain, non-terminal stderr). */
export async function cli(...argv: string[]): Promise<CliResult> {
  let out = '';
  let err = '';
  const spy = jest.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
    err += String(s);
    return true;
  });
  const t0 = performance.now();
  try {
    const code = await main(argv, (s) => (out += s));
    return { code, out, err, ms: performance.now() - t0 };
  } finally {
    spy.mockRestore();
  }
}

/** A terminal stderr that records what is drawn on it. */
export function fakeTerminal(): ProgressStream & { text: string } {
  const t = {
    isTTY: true,
    columns: 120,
    text: '',
    write(s: string): boolean {
      t.text += s;
      return true;
    },
  };
  return t;
}

/** Runs the CLI in-process with stderr on a given stream and a given wall clock. */
export async function cliOn(err: ProgressStream & { text: string }, clock: WallClock, ...argv: string[]): Promise<CliResult> {
  let out = '';
  const t0 = performance.now();
  const code = await main(argv, (s) => (out += s), err, clock);
  return { code, out, err: err.text, ms: performance.now() - t0 };
}

/** An output with its wall-clock times (and a sweep's measured worker heaps) blanked: what a rerun must reproduce byte for byte. */
export function withoutTimes(text: string): string {
  return text
    .replace(/"startedAt": ?"[^"]*"/g, '"startedAt":"T"')
    .replace(/"wallSeconds": ?[0-9.e+-]+/g, '"wallSeconds":0')
    .replace(/"workerHeap": ?\[[^\]]*\]/g, '"workerHeap":[]');
}
