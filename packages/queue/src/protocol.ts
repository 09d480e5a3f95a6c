import type { LoadedScenario, SweepPlan, SweepTaskResult } from '@ipilab/scenario';

/**
 * What the coordinator and the workers agree on: the job a run is, the keys beside BullMQ's,
 * and the names. A worker refuses a job of another protocol or another ipilab.
 */

/** Bumped when a job's shape changes: a worker refuses jobs of another protocol. */
export const PROTOCOL = 1;

/** BullMQ's key prefix for ipilab's queues: `ipilab:<queue>:...`. */
export const PREFIX = 'ipilab';

/** The sweeps queued now, oldest first (a sorted set scored by the time each was first queued). */
export const REGISTRY = 'ipilab:sweeps';

/** The channel a coordinator publishes a newly queued sweep's name on, so idle workers start at once rather than at their next look. */
export const ANNOUNCE = 'ipilab:announce';

/** A queued sweep's record (a hash: ipilab, runs, queuedAt). */
export const sweepKey = (queue: string): string => `ipilab:sweep:${queue}`;

/** Workers that refused a sweep's runs, and why (a hash: worker -> line), for its coordinator to show. */
export const refusalsKey = (queue: string): string => `ipilab:sweep:${queue}:refused`;

/** A plugin's files, gzipped, by their sha256 (plugins.ts). */
export const pluginKey = (sha256: string): string => `ipilab:plugin:${sha256}`;

/** Which ipilab made a job, or runs it (the CLI's toolVersion()). */
export interface IpilabVersion {
  readonly version: string;
  readonly commit?: string;
  readonly modified?: boolean;
}

/** `0.1.0 (commit 0123456789ab)`: for lines about versions. */
export function versionShown(v: IpilabVersion): string {
  return `${v.version}${v.commit === undefined ? '' : ` (commit ${v.commit.slice(0, 12)}${v.modified === true ? ', modified' : ''})`}`;
}

/**
 * Whether a worker of version `mine` may run a job made by `theirs`: the same release and, when
 * either runs from a git checkout, the same commit. Two checkouts of one commit with different
 * uncommitted changes cannot be told apart (docs/scale-out.md).
 */
export function sameIpilab(mine: IpilabVersion, theirs: IpilabVersion): boolean {
  return mine.version === theirs.version && mine.commit === theirs.commit;
}

/**
 * A plugin a run needs, as the job names it: shipped (its files are in Redis under `bundle`, the
 * entry file at `entry` among them), or an installed package the worker must have in the same
 * version.
 */
export type PluginRef =
  | { readonly index: number; readonly spec: string; readonly bundle: string; readonly entry: string }
  | { readonly index: number; readonly spec: string; readonly package: string; readonly version: string };

/** One run of a sweep, as a BullMQ job's data. */
export interface QueuedRun {
  readonly protocol: number;
  /** The ipilab that queued it: a worker of another refuses it. */
  readonly ipilab: IpilabVersion;
  /** The point's grid values (for lines about the run). */
  readonly params: Readonly<Record<string, string>>;
  readonly point: number;
  readonly seed: number;
  /** The point's scenario, resolved and checked by the coordinator: the worker never reads the file. */
  readonly loaded: LoadedScenario;
  /** The plugins the scenario names, by index in its `plugins`. */
  readonly plugins: readonly PluginRef[];
}

/** What a job returns: the run's result and the worker that ran it. */
export interface RunReturn {
  readonly result: SweepTaskResult;
  readonly worker: string;
}

/** A run's job id in its sweep's queue: the same run always gets the same id, so queuing it again is a no-op. */
export const jobId = (point: number, seed: number): string => `p${point}-s${seed}`;

/**
 * The queue a sweep's runs go in: named after the sweep (its scenario's name) and its identity
 * (scenarios, points, seeds), so the same sweep, run again or resumed, finds its queue.
 */
export function queueName(plan: Pick<SweepPlan, 'name' | 'identity'>): string {
  const slug = plan.name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40);
  return `sweep-${slug === '' ? 'unnamed' : slug}-${plan.identity.slice(0, 16)}`;
}
