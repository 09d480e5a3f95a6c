import { closeSync, fstatSync, openSync, readSync } from 'node:fs';

/**
 * The largest scenario or grid file read by default. YAML is parsed at ~0.6 s a MiB here (a
 * 25 MB file took 16 s before it was refused), and the largest example scenario is under 10 KiB:
 * 1 MiB is ~100x that, and reads in well under a second.
 */
export const DEFAULT_MAX_INPUT_BYTES = 2 ** 20;
/** The largest ipilab output `rerun` reads by default: JSON parses fast, and a large sweep's output is large. */
export const DEFAULT_MAX_RESULT_BYTES = 64 * 2 ** 20;

/** A file over the input size limit (its message says which, and how to raise the limit). */
export class InputTooLarge extends Error {}

const CHUNK = 64 * 1024;

/** `1 MiB`, `512 KiB`, `70 B`: a size for messages. */
export function sizeText(bytes: number): string {
  if (bytes >= 2 ** 20) return `${+(bytes / 2 ** 20).toFixed(1)} MiB`;
  if (bytes >= 1024) return `${+(bytes / 1024).toFixed(1)} KiB`;
  return `${bytes} B`;
}

/**
 * Reads a text file of at most `maxBytes`: a regular file over it is refused from its size,
 * without reading it; anything else (a pipe, /dev/zero, /dev/stdin) is read up to the limit and
 * refused past it, so no input can make a command read forever or run out of memory. Errors
 * are Node's (ENOENT, EISDIR) or an InputTooLarge whose message starts after the file name.
 */
export function readInputText(file: string, maxBytes: number = DEFAULT_MAX_INPUT_BYTES): string {
  const fd = openSync(file, 'r');
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw Object.assign(new Error(`EISDIR: illegal operation on a directory, read`), { code: 'EISDIR' });
    const over = (size: string): InputTooLarge => {
      // A limit to suggest: the next power of two above the file's size, or twice this one.
      let enough = 1;
      while (enough < Math.max(st.isFile() ? st.size : 0, maxBytes * 2)) enough *= 2;
      return new InputTooLarge(`${size}, over the input size limit of ${sizeText(maxBytes)}; raise it with --max-input-size, e.g. --max-input-size ${sizeText(enough).replace(' ', '')}`);
    };
    // Just over the limit, the size is shown to the byte (not "1 MiB, over the limit of 1 MiB").
    if (st.isFile() && st.size > maxBytes) throw over(sizeText(st.size) === sizeText(maxBytes) ? `${st.size.toLocaleString('en-US')} bytes` : sizeText(st.size));
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      chunks.push(buf.subarray(0, n));
      total += n;
      if (total > maxBytes) throw over(`more than ${sizeText(maxBytes)}`);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1000, kib: 1024, m: 2 ** 20, mb: 1e6, mib: 2 ** 20, g: 2 ** 30, gb: 1e9, gib: 2 ** 30 };

/** `--max-input-size`: `4MiB`, `500KB`, `2G`, `100000` (bytes); undefined when it is none of those. */
export function parseByteSize(text: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m === null ? undefined : UNITS[m[2]!.toLowerCase()];
  if (m === null || unit === undefined) return undefined;
  const bytes = Math.floor(Number(m[1]) * unit);
  return bytes >= 1 && Number.isSafeInteger(bytes) ? bytes : undefined;
}
