import { spawn } from 'node:child_process';
import { accessSync, closeSync, constants, mkdirSync, openSync, realpathSync, renameSync, rmdirSync, statfsSync, statSync, unlinkSync, writeFileSync, writeSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { UsageError } from './usage-error';

/**
 * Where a command's files go, checked before the run and written after it.
 *
 * Every path is checked up front (`check`), so a typo costs a second, not the run: a file's
 * parent must be an existing writable directory, an `--out` directory must exist or be creatable
 * under one, nothing may be a special file or lie on a kernel pseudo file system (/proc, /sys,
 * /dev: writing there hangs, fails late or replaces a device), and no two flags may name the same
 * file. `write` then writes every file to a temporary name beside its target and renames them all
 * only when all were written: no partial output and no temporary file left behind. A failure at
 * that point (disk full, permissions changed during the run) is returned, not thrown, so the
 * command can still print its results. A signal (Ctrl-C, SIGTERM) that comes during the write
 * waits for it to end, so it never leaves a temporary file; `stream` writes a file piece by piece
 * during the run (a trace), and a process-independent janitor removes its temporary file if the
 * process dies before it is renamed.
 */
export class OutputPlan {
  private readonly targets: Target[] = [];
  private readonly dirs: { flag: string; shown: string; path: string }[] = [];

  /** `flag dir`: files `names` inside a directory that is created if missing. Returns their paths. */
  dir(flag: string, shown: string, names: readonly string[]): Record<string, string> {
    const path = resolve(shown);
    this.dirs.push({ flag, shown, path });
    const out: Record<string, string> = {};
    for (const name of names) {
      out[name] = join(path, name);
      this.targets.push({ flag, shown: join(shown, name), path: out[name], inDir: path });
    }
    return out;
  }

  /** `flag file`: one file whose directory must exist. Returns its path. */
  file(flag: string, shown: string): string {
    const path = resolve(shown);
    this.targets.push({ flag, shown, path });
    return path;
  }

  /** Throws a UsageError naming the flag and the path on the first output that could not be written. */
  check(): void {
    for (const d of this.dirs) checkDirectory(d.flag, d.shown, d.path);
    const seen = new Map<string, string>();
    for (const t of this.targets) {
      const other = seen.get(t.path);
      if (other !== undefined) throw new UsageError(`${t.flag} ${t.shown}: also written by ${other}; expected a different file`);
      seen.set(t.path, `${t.flag} ${t.shown}`);
      if (t.inDir === undefined) checkFile(t.flag, t.shown, t.path);
      else checkExisting(t.flag, t.shown, t.path);
    }
  }

  /**
   * Writes every planned file (`bodies` by path, as `dir` and `file` returned them), all or
   * nothing. Returns the files that could not be written (empty when all were), each with why.
   */
  write(bodies: ReadonlyMap<string, string>): WriteFailure[] {
    const release = holdSignals();
    try {
      return this.writeAll(bodies);
    } finally {
      release();
    }
  }

  /**
   * Writes one planned file (`path` as `file` returned it) piece by piece: `produce` hands each
   * chunk to `write` as it has it, and the file is renamed into place when `produce` returns.
   * A chunk that cannot be written (disk full, file too large) stops `produce` and is returned as
   * the failure; anything else `produce` throws is rethrown. Either way no temporary file is left.
   */
  stream<R>(path: string, produce: (write: (chunk: string) => void) => R): { ok: true; result: R } | { ok: false; failure: WriteFailure } {
    const t = this.targets.find((x) => x.path === path);
    if (t === undefined) throw new Error(`OutputPlan.stream: ${path} was not planned`);
    const tmp = tempName(path);
    let fd: number;
    try {
      fd = openSync(tmp, 'w');
    } catch (e) {
      return { ok: false, failure: { shown: t.shown, reason: reason(e) } };
    }
    const guard = janitor(tmp);
    let open = true;
    const close = (): void => {
      if (open) closeSync(fd);
      open = false;
    };
    // Sticky: the model may catch and rethrow in its own way, but no chunk is written after a failed one.
    let failed: StreamWriteFailed | undefined;
    const write = (chunk: string): void => {
      if (failed !== undefined) throw failed;
      const buf = Buffer.from(chunk);
      try {
        for (let at = 0; at < buf.length; ) at += writeSync(fd, buf, at, buf.length - at);
      } catch (e) {
        throw (failed = new StreamWriteFailed(e));
      }
    };
    const abandon = (): void => {
      try {
        close();
      } catch {
        // Something failed already: closing cannot make it worse.
      }
      tryRemove(tmp);
      guard.keep();
    };
    let result: R;
    try {
      result = produce(write);
    } catch (e) {
      abandon();
      if (failed !== undefined) return { ok: false, failure: { shown: t.shown, reason: reason(failed.cause) } };
      throw e;
    }
    try {
      close();
      renameSync(tmp, path);
    } catch (e) {
      abandon();
      return { ok: false, failure: { shown: t.shown, reason: reason(e) } };
    }
    guard.keep();
    return { ok: true, result };
  }

  private writeAll(bodies: ReadonlyMap<string, string>): WriteFailure[] {
    const created: string[] = [];
    const staged: { tmp: string; target: Target }[] = [];
    const unstage = (): void => {
      for (const s of staged) tryRemove(s.tmp);
      for (const d of created.reverse()) tryRemoveDir(d);
    };
    const wanted = this.targets.filter((t) => bodies.has(t.path));
    /** All or nothing: `culprit` failed, so none of the files is written. */
    const failAll = (culprit: string, e: unknown, dir?: string): WriteFailure[] => {
      unstage();
      return wanted.map((t) => ({ shown: t.shown, reason: t.shown === culprit || (dir !== undefined && t.inDir === dir) ? reason(e) : `not written either (all or nothing: ${culprit} failed)` }));
    };
    for (const d of this.dirs) {
      try {
        const first = mkdirSync(d.path, { recursive: true });
        if (first !== undefined) created.push(...dirsCreated(first, d.path));
      } catch (e) {
        return failAll(d.shown, e, d.path);
      }
    }
    for (const t of wanted) {
      const tmp = tempName(t.path);
      try {
        staged.push({ tmp, target: t });
        writeFileSync(tmp, bodies.get(t.path)!);
      } catch (e) {
        return failAll(t.shown, e);
      }
    }
    // Renamed into place one by one, each file a target replaces set aside first, so that a
    // rename failing half-way (rare: the directory vanished, permissions changed) is undone whole:
    // the new files go, the old ones come back, and no file is left half of one command's outputs.
    const done: { target: Target; old?: string }[] = [];
    for (const s of staged) {
      let old: string | undefined;
      try {
        if (statOrUndefined(s.target.path) !== undefined) {
          old = join(dirname(s.target.path), `.${basename(s.target.path)}.${process.pid}.old`);
          renameSync(s.target.path, old);
        }
        renameSync(s.tmp, s.target.path);
        done.push({ target: s.target, ...(old === undefined ? {} : { old }) });
      } catch (e) {
        if (old !== undefined && statOrUndefined(s.target.path) === undefined) tryRename(old, s.target.path);
        for (const d of done.reverse()) {
          tryRemove(d.target.path);
          if (d.old !== undefined) tryRename(d.old, d.target.path);
        }
        unstage();
        return wanted.map((t) => ({ shown: t.shown, reason: t === s.target ? reason(e) : `not written either (all or nothing: ${s.target.shown} failed)` }));
      }
    }
    for (const d of done) if (d.old !== undefined) tryRemove(d.old);
    return [];
  }
}

/** `.<name>.<pid>.tmp` beside the target: on the same file system, so the rename is atomic. */
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
}

/** A streamed chunk could not be written: thrown through the producer, caught by `stream`. */
class StreamWriteFailed extends Error {
  constructor(cause: unknown) {
    super(`could not write: ${reason(cause)}`, { cause });
    this.name = 'StreamWriteFailed';
  }
}

const HELD_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Defers SIGINT, SIGTERM and SIGHUP until the returned function is called and the event loop
 * turns: the write in between (synchronous, milliseconds) then ends with every file renamed or
 * every temporary removed, never half-way. A signal that came is then delivered again, with
 * Node's default action (the process ends by it, as it would have).
 */
function holdSignals(): () => void {
  let got: NodeJS.Signals | undefined;
  const hold = (sig: NodeJS.Signals): void => {
    got ??= sig;
  };
  for (const s of HELD_SIGNALS) process.on(s, hold);
  return () => {
    // The listener must stay until a signal that came during the write has been read (it is read
    // when the event loop polls, before immediates run).
    setImmediate(() => {
      for (const s of HELD_SIGNALS) process.off(s, hold);
      if (got !== undefined) process.kill(process.pid, got);
    });
  };
}

/**
 * A small detached process that removes `tmp` unless told to keep it: a streamed file is written
 * for as long as the run lasts, during which a signal or a kill ends this process at once (the run
 * is synchronous, so no handler of ours could run). The janitor sees its stdin close when this
 * process ends, however it ends; `keep()` (the file was renamed, or removed already) lets it go.
 * It runs in its own process group, so Ctrl-C at a terminal does not reach it.
 */
function janitor(tmp: string): { keep(): void } {
  const script = [
    "for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(s, () => {});",
    'let keep = false;',
    "process.stdin.on('data', () => { keep = true; });",
    "process.stdin.on('end', () => { if (!keep) try { require('node:fs').unlinkSync(process.argv[1]); } catch {} process.exit(0); });",
  ].join('\n');
  try {
    const child = spawn(process.execPath, ['-e', script, tmp], { detached: true, stdio: ['pipe', 'ignore', 'ignore'] });
    child.on('error', () => undefined);
    child.stdin.on('error', () => undefined);
    child.unref();
    (child.stdin as unknown as { unref?: () => void }).unref?.();
    return {
      keep: () => {
        child.stdin.end('keep');
      },
    };
  } catch {
    // No process to spare: only a death during the run could then leave the file.
    return { keep: () => undefined };
  }
}

/** A file that could not be written after the run: the path as the user gave it, and why. */
export interface WriteFailure {
  readonly shown: string;
  readonly reason: string;
}

interface Target {
  readonly flag: string;
  /** The path as the user wrote it (messages never show temporary names). */
  readonly shown: string;
  readonly path: string;
  /** Set for files inside an `--out` directory (checked with it). */
  readonly inDir?: string;
}

/**
 * Kernel pseudo file systems (statfs f_type, linux/magic.h): proc, sysfs, cgroup v1 and v2,
 * debugfs, tracefs, securityfs, configfs, bpf, pstore, efivarfs, devpts, mqueue, binfmt_misc,
 * fusectl, hugetlbfs. /dev is devtmpfs, whose magic is tmpfs's, so it is refused by path.
 */
const PSEUDO_FS = new Set([0x9fa0, 0x62656572, 0x27e0eb, 0x63677270, 0x64626720, 0x74726163, 0x73636673, 0x62656570, 0xcafe4a11, 0x6165676c, 0xde5e81e4, 0x1cd1, 0x19800202, 0x42494e4d, 0x65735543, 0x958458f6]);
const PSEUDO_ROOTS = ['/proc', '/sys', '/dev'];

/** The reason a path is on a special file system, or undefined. `existing` is its nearest existing ancestor (or itself). */
function specialFileSystem(existing: string): string | undefined {
  let real: string;
  try {
    real = realpathSync(existing);
  } catch {
    real = existing;
  }
  const root = PSEUDO_ROOTS.find((r) => real === r || real.startsWith(`${r}${sep}`));
  // /dev/shm is ordinary shared memory (tmpfs) that programs do write files to.
  if (root !== undefined && !(real === '/dev/shm' || real.startsWith('/dev/shm/'))) return `${root} is a special file system`;
  if (process.platform === 'linux') {
    try {
      if (PSEUDO_FS.has(Number(statfsSync(real).type))) return `${real} is on a special (kernel pseudo) file system`;
    } catch {
      // statfs unavailable: the path check above stands.
    }
  }
  return undefined;
}

/** stat without throwing: undefined when the path does not exist (or cannot be looked at). */
function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** The deepest existing ancestor of `path` (or `path` itself). */
function nearestExisting(path: string): { path: string; stats: Stats } {
  let p = path;
  for (;;) {
    const st = statOrUndefined(p);
    if (st !== undefined) return { path: p, stats: st };
    const up = dirname(p);
    if (up === p) return { path: p, stats: statSync(p) };
    p = up;
  }
}

function kind(st: Stats): string {
  if (st.isFile()) return 'a file';
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a special file';
}

function writable(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EROFS' ? 'on a read-only file system' : 'not writable';
  }
}

/** An `--out` directory: an existing writable directory, or creatable under one. */
function checkDirectory(flag: string, shown: string, path: string): void {
  const near = nearestExisting(path);
  const special = specialFileSystem(near.path);
  if (special !== undefined) throw new UsageError(`${flag} ${shown}: ${special}; expected a directory on a disk`);
  if (near.path === path) {
    if (!near.stats.isDirectory()) throw new UsageError(`${flag} ${shown}: is ${kind(near.stats)}, expected a directory (it is created if missing)`);
  } else if (!near.stats.isDirectory()) {
    throw new UsageError(`${flag} ${shown}: ${near.path} is ${kind(near.stats)}, not a directory, so ${shown} cannot be created`);
  }
  const w = writable(near.path);
  if (w !== undefined) throw new UsageError(`${flag} ${shown}: ${near.path === path ? 'the directory' : `cannot be created: ${near.path}`} is ${w}`);
}

/** A file that exists already must be a regular file (it is replaced); anything else is refused. */
function checkExisting(flag: string, shown: string, path: string): void {
  const st = statOrUndefined(path);
  if (st !== undefined && !st.isFile()) throw new UsageError(`${flag} ${shown}: is ${kind(st)}, expected a file (or nothing) to write`);
}

/** `--html file`, `trace --out file`: its directory must exist, be writable and be on a disk. */
function checkFile(flag: string, shown: string, path: string): void {
  const parent = dirname(path);
  const near = nearestExisting(parent);
  const special = specialFileSystem(near.path);
  if (special !== undefined) throw new UsageError(`${flag} ${shown}: ${special}; expected a file on a disk`);
  if (near.path !== parent) throw new UsageError(`${flag} ${shown}: directory ${dirname(shown)} does not exist`);
  if (!near.stats.isDirectory()) throw new UsageError(`${flag} ${shown}: ${dirname(shown)} is ${kind(near.stats)}, not a directory`);
  checkExisting(flag, shown, path);
  const w = writable(parent);
  if (w !== undefined) throw new UsageError(`${flag} ${shown}: directory ${dirname(shown)} is ${w}`);
}

/** Why a write failed, in words, without the temporary file's name Node puts in its messages. */
export function writeFailureReason(e: unknown): string {
  return reason(e);
}

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const words: Record<string, string> = {
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOENT: 'its directory no longer exists',
    ENOTDIR: 'a parent is not a directory',
    EISDIR: 'is a directory',
    EIO: 'input/output error',
    EFBIG: 'file too large (over the file size limit)',
    EEXIST: 'a file is in the way',
  };
  return (code !== undefined ? words[code] : undefined) ?? (code ?? String(e));
}

/** The directories `mkdirSync(path, { recursive })` created, from the first one it reported. */
function dirsCreated(first: string, path: string): string[] {
  const out: string[] = [];
  for (let p = path; ; p = dirname(p)) {
    out.unshift(p);
    if (p === first || dirname(p) === p) break;
  }
  return out;
}

function tryRemove(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // Never written, or already gone.
  }
}

function tryRename(from: string, to: string): void {
  try {
    renameSync(from, to);
  } catch {
    // Best effort while undoing: the original failure is what gets reported.
  }
}

function tryRemoveDir(dir: string): void {
  try {
    rmdirSync(dir);
  } catch {
    // Not empty (someone else wrote there) or already gone: leave it.
  }
}
