import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ScenarioError } from './errors';
import type { SweepTaskResult } from './sweep-worker';

/**
 * A sweep's journal (`sweep.journal.jsonl` beside its outputs): one JSON line per finished run,
 * appended as each run ends, so an interrupted or killed sweep loses no finished run and
 * `--resume` runs only the others. The first line says which sweep it is: the hash of every
 * point's checked scenario and seeds (`identity`); a resume refuses a journal of another sweep.
 *
 * Each line is written with one write(2) to a file opened for appending, so a kill between runs
 * leaves whole lines; a kill during a write can leave a last partial line, which a resume drops
 * (that run is run again). Numbers JSON cannot hold (NaN: a figure not produced) are written
 * tagged, so a resumed sweep reads back exactly what its runs gave.
 */
export const JOURNAL_NAME = 'sweep.journal.jsonl';

interface Header {
  readonly ipilabSweepJournal: 1;
  readonly identity: string;
  readonly runs: number;
}

const replacer = (_k: string, v: unknown): unknown => (typeof v === 'number' && !Number.isFinite(v) ? { $number: String(v) } : v);
const reviver = (_k: string, v: unknown): unknown => {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$number') return Number((v as { $number: string }).$number);
  }
  return v;
};

/** The journal of a sweep's finished runs (`sweep.journal.jsonl` in `--out`): what `--resume` reads to run only what is missing. */
export class SweepJournal {
  private fd: number | undefined;

  private constructor(
    readonly path: string,
    /** Runs the journal had when opened (a resume's finished runs). */
    readonly done: readonly SweepTaskResult[],
  ) {}

  /** How many runs a journal holds and of how many, without checking whose it is (for messages). */
  static progress(path: string): { runs: number; of: number } | undefined {
    try {
      const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.length > 0);
      const header = JSON.parse(lines[0]!) as Header;
      return header.ipilabSweepJournal === 1 && Number.isSafeInteger(header.runs) ? { runs: Math.max(0, lines.length - 1), of: header.runs } : undefined;
    } catch {
      return undefined;
    }
  }

  /** Starts a journal for a sweep of `runs` runs (replacing none: the caller checked there is none), its directory created if missing. */
  static create(path: string, identity: string, runs: number): SweepJournal {
    mkdirSync(dirname(path), { recursive: true });
    const j = new SweepJournal(path, []);
    j.fd = openSync(path, 'wx');
    j.write({ ipilabSweepJournal: 1, identity, runs } satisfies Header);
    return j;
  }

  /**
   * Opens a journal to resume: its finished runs, and appends after them. A journal of another
   * sweep (its scenario, overrides, grid or seeds changed) or not a journal is the user's to fix.
   */
  static resume(path: string, identity: string, shown: string): SweepJournal {
    if (!existsSync(path)) throw new ScenarioError(`--resume: ${shown} has no unfinished sweep (no ${JOURNAL_NAME}); run the sweep without --resume`);
    const lines = readFileSync(path, 'utf8').split('\n');
    let header: Header | undefined;
    try {
      header = JSON.parse(lines[0]!) as Header;
    } catch {
      header = undefined;
    }
    if (header?.ipilabSweepJournal !== 1) throw new ScenarioError(`--resume: ${shown}/${JOURNAL_NAME} is not a sweep journal; remove it to start again`);
    if (header.identity !== identity) {
      throw new ScenarioError(`--resume: ${shown}/${JOURNAL_NAME} is another sweep's (its scenario, --set, --metric, grid or seeds differ from this one's); give the same arguments as the sweep that wrote it, or remove the file to start again`);
    }
    const done: SweepTaskResult[] = [];
    let whole = 0;
    for (const [i, line] of lines.entries()) {
      if (i === 0 || line.length === 0) continue;
      try {
        done.push(JSON.parse(line, reviver) as SweepTaskResult);
        whole = i;
      } catch {
        // A last line cut short by a kill: its run is run again. Anything after it is not the journal's.
        break;
      }
    }
    const j = new SweepJournal(path, done);
    const kept = `${lines.slice(0, whole + 1).join('\n')}\n`;
    if (kept.length !== lines.join('\n').length) {
      // Appends go after the last whole line: the cut-short tail is dropped, by a rename so a kill now loses nothing.
      const tmp = `${path}.${process.pid}.tmp`;
      writeFileSync(tmp, kept);
      renameSync(tmp, path);
    }
    j.fd = openSync(path, 'a');
    return j;
  }

  /** Appends a finished run. */
  append(r: SweepTaskResult): void {
    this.write(r);
  }

  private write(value: unknown): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(value, replacer)}\n`);
  }

  /** Flush and close the journal file. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  /** Closes and deletes the journal: the sweep finished and its outputs are written. */
  remove(): void {
    this.close();
    rmSync(this.path, { force: true });
  }
}
