import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';

/** Which ipilab made an output: the package version and, in a git checkout, its commit. */
export interface ToolVersion {
  readonly version: string;
  /** The checkout's HEAD; absent when ipilab does not run from its own git checkout or git is missing. */
  readonly commit?: string;
  /** Tracked files differ from `commit` (uncommitted changes): the commit alone does not name the code. */
  readonly modified?: boolean;
}

/** packages/cli, from src/ (tests) or dist/ (the built CLI). */
const PACKAGE_DIR = join(__dirname, '..');
/** The repository root, when ipilab runs from its own workspace. */
const REPO_DIR = join(PACKAGE_DIR, '..', '..');

let cached: ToolVersion | undefined;
let pending: Promise<ToolVersion> | undefined;

const packageVersion = (): string => (JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string }).version;

/** The version, read once per process; git is asked only here, never on `--help`. */
export function toolVersion(): ToolVersion {
  cached ??= { version: packageVersion(), ...gitState(REPO_DIR) };
  return cached;
}

/**
 * Starts asking git for the version in the background (a command calls it before it simulates,
 * so the two git processes, ~0.1 s, overlap the run instead of following it); resolves to what
 * `toolVersion()` then returns.
 */
export function prefetchToolVersion(): Promise<ToolVersion> {
  if (cached !== undefined) return Promise.resolve(cached);
  pending ??= gitStateAsync(REPO_DIR).then((git) => {
    cached ??= { version: packageVersion(), ...git };
    return cached;
  });
  return pending;
}

/** `ipilab 0.1.0 (commit 0123…, with uncommitted changes)`, for --version. */
export function versionText(v: ToolVersion = toolVersion()): string {
  const commit = v.commit === undefined ? '' : ` (commit ${v.commit}${v.modified === true ? ', with uncommitted changes' : ''})`;
  return `ipilab ${v.version}${commit}\n`;
}

/**
 * HEAD of the ipilab checkout at `root`, and whether tracked files were changed. Only ipilab's
 * own repository counts: an ipilab installed inside another project's repository must not report
 * that project's commit. Any failure (no git, not a checkout, a slow file system) leaves the
 * commit out rather than failing the command.
 */
export function gitState(root: string): { commit?: string; modified?: boolean } {
  try {
    if (!isIpilabCheckout(root)) return {};
    const git = (args: readonly string[]): string => execFileSync('git', ['-C', root, ...args], { ...GIT_OPTIONS, stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return readGitState(root, git(REV_PARSE), () => git(STATUS));
  } catch {
    return {};
  }
}

/** `gitState`, with both git commands started at once and not blocking the thread. */
export async function gitStateAsync(root: string): Promise<{ commit?: string; modified?: boolean }> {
  try {
    if (!isIpilabCheckout(root)) return {};
    const git = (args: readonly string[]): Promise<string> =>
      new Promise((resolve, reject) => execFile('git', ['-C', root, ...args], GIT_OPTIONS, (e, out) => (e === null ? resolve(out.trim()) : reject(e))));
    const [head, status] = await Promise.all([git(REV_PARSE), git(STATUS)]);
    return readGitState(root, head, () => status);
  } catch {
    return {};
  }
}

// GIT_OPTIONAL_LOCKS=0: `status` must not take the index lock (a concurrent git command would fail).
const GIT_OPTIONS = { encoding: 'utf8' as const, timeout: 5_000, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } };
const REV_PARSE = ['rev-parse', 'HEAD', '--show-toplevel'] as const;
const STATUS = ['status', '--porcelain', '--untracked-files=no'] as const;

function isIpilabCheckout(root: string): boolean {
  if (!existsSync(join(root, '.git'))) return false;
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string };
  return pkg.name === 'ipilab';
}

/** The commit from `rev-parse HEAD --show-toplevel`'s output, if it names `root` itself. */
function readGitState(root: string, revParse: string, status: () => string): { commit?: string; modified?: boolean } {
  const [commit, top] = revParse.split('\n');
  if (commit === undefined || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit) || top === undefined || realpathSync(top) !== realpathSync(root)) return {};
  return { commit, modified: status() !== '' };
}
