import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { pathSegments } from './errors';

/**
 * Where each key of a YAML (or JSON) file is: `file:line:col` of the value at a scenario path,
 * of the key itself (`atKey`, for an unknown key), or of the nearest enclosing node that exists
 * (a missing key is reported where it should have been written).
 */
export class SourceLocations {
  constructor(
    readonly file: string,
    private readonly doc: Document,
    private readonly lines: LineCounter,
  ) {}

  static parse(file: string, text: string): { doc: Document; locations: SourceLocations } {
    const lines = new LineCounter();
    // Plain data only: YAML 1.1's explicit tags (!!binary, !!set, !!timestamp, ...) would make a
    // Buffer, a Set or a Date, whose own methods the schema would list as unknown keys.
    const doc = parseDocument(text, { lineCounter: lines, resolveKnownTags: false });
    return { doc, locations: new SourceLocations(file, doc, lines) };
  }

  /** `file:line:col` of a node of the document (its start; `fallback` when it has none). */
  locateNode(node: Node | null | undefined, fallback = 0): string {
    const p = this.lines.linePos(node?.range?.[0] ?? fallback);
    return `${this.file}:${p.line}:${p.col}`;
  }

  /** `file:line:col` of `key` (`vms[1].vcpus`). */
  locate(key: string, atKey = false): string {
    const pos = this.position(key, atKey);
    return `${this.file}:${pos.line}:${pos.col}`;
  }

  /** Line and column (from 1) of `key`. */
  position(key: string, atKey = false): { line: number; col: number } {
    return this.lines.linePos(this.offsetOf(pathSegments(key), atKey));
  }

  private offsetOf(path: readonly (string | number)[], atKey: boolean): number {
    let node: Node | null = this.doc.contents as Node | null;
    let at = node?.range?.[0] ?? 0;
    for (let i = 0; i < path.length; i++) {
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (pair === undefined) return at;
        const keyAt = isScalar(pair.key) ? (pair.key.range?.[0] ?? at) : at;
        const value = pair.value as Node | null;
        // An empty value (`key:`) has no text of its own: point at the key.
        const empty = value === null || (isScalar(value) && value.source === '' && value.value === null);
        // A key whose value is a block of its own (a list, a mapping) is pointed at by its key.
        if (empty || (last && (atKey || !isScalar(value)))) return keyAt;
        node = value;
        at = value.range?.[0] ?? keyAt;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg] as Node | undefined;
        if (item === undefined || item === null) return at;
        node = item;
        at = item.range?.[0] ?? at;
      } else {
        return at;
      }
    }
    return at;
  }
}
