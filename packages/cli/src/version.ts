import { execFileSync } from 'node:child_process';
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

/** The version, read once per process; git is asked only here, never on `--help`. */
export function toolVersion(): ToolVersion {
  if (cached === undefined) {
    const pkg = JSON.parse(readFileSync(join(PACKAGE_DIR, 'package.json'), 'utf8')) as { version: string };
    cached = { version: pkg.version, ...gitState(REPO_DIR) };
  }
  return cached;
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
    if (!existsSync(join(root, '.git'))) return {};
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { name?: string };
    if (pkg.name !== 'ipilab') return {};
    // GIT_OPTIONAL_LOCKS=0: `status` must not take the index lock (a concurrent git command would fail).
    const git = (args: string[]): string =>
      execFileSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000, env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } }).trim();
    const [commit, top] = git(['rev-parse', 'HEAD', '--show-toplevel']).split('\n');
    if (commit === undefined || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(commit) || top === undefined || realpathSync(top) !== realpathSync(root)) return {};
    return { commit, modified: git(['status', '--porcelain', '--untracked-files=no']) !== '' };
  } catch {
    return {};
  }
}
