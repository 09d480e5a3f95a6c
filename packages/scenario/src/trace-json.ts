import type { TraceEvent } from './trace';

/** Characters gathered before a chunk is handed on: large enough for few writes, small enough to never matter. */
export const TRACE_CHUNK_CHARS = 1 << 16;

/**
 * Writes a trace as the trace-event "JSON Object Format" — `{"traceEvents":[…],"displayTimeUnit":"ns", …tail}`,
 * the same text `JSON.stringify` gives for the whole object — in chunks of about `chunkChars`
 * characters as events arrive, so no string ever holds the whole trace (V8 caps one near 512 MiB,
 * which a two-second storm's trace passes). At most one chunk and one event are held at a time.
 */
export class TraceJsonWriter {
  private parts: string[] = [];
  private pending = 0;
  private started = false;
  private ended = false;
  /** UTF-8 bytes handed to `write` so far. */
  bytes = 0;
  /** Events written so far. */
  events = 0;

  constructor(
    private readonly write: (chunk: string) => void,
    private readonly chunkChars: number = TRACE_CHUNK_CHARS,
  ) {}

  /** UTF-8 bytes written and still gathered: the trace's size so far. */
  get size(): number {
    return this.bytes + this.pending;
  }

  /** Append one trace event. */
  event(e: TraceEvent): void {
    this.add(`${this.started ? ',' : '{"traceEvents":['}${JSON.stringify(e)}`);
    this.started = true;
    this.events++;
  }

  /** Closes the document with the top-level keys after the events (`displayTimeUnit`, then `tail`'s, e.g. `meta`) and a newline. */
  end(tail: Readonly<Record<string, unknown>> = {}): void {
    if (this.ended) throw new Error('TraceJsonWriter.end: called twice');
    this.ended = true;
    const rest = JSON.stringify({ displayTimeUnit: 'ns', ...tail }).slice(1);
    this.add(`${this.started ? '' : '{"traceEvents":['}],${rest}\n`);
    this.flush();
  }

  private add(s: string): void {
    this.parts.push(s);
    // Characters, not bytes: a bound on the chunk either way (trace text is nearly all ASCII).
    this.pending += s.length;
    if (this.pending >= this.chunkChars) this.flush();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    const chunk = this.parts.join('');
    this.parts = [];
    this.pending = 0;
    this.bytes += Buffer.byteLength(chunk);
    this.write(chunk);
  }
}
