import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * What made an output, so that it can be trusted and made again (`ipilab rerun`): which ipilab
 * (version, git commit), where it ran (Node, OS, architecture), the scenario exactly as run
 * (every default filled in) with its hash, the command-line overrides as given, the seeds and
 * replications, and when it started and how long it took. Every JSON, CSV and HTML output of
 * run, compare, sweep and trace carries it (docs/cli.md, "Provenance").
 */
export const provenanceSchema = z
  .object({
    ipilab: z
      .object({
        version: z.string(),
        commit: z.string().optional().meta({ description: 'git HEAD of the ipilab checkout that ran; absent outside a git checkout.' }),
        modified: z.boolean().optional().meta({ description: 'true when tracked files differed from commit (uncommitted changes).' }),
      })
      .strict(),
    node: z.string().meta({ description: 'process.version, e.g. v20.20.2.' }),
    os: z.string().meta({ description: 'process.platform, e.g. linux.' }),
    arch: z.string().meta({ description: 'process.arch, e.g. x64.' }),
    command: z.enum(['run', 'compare', 'sweep', 'trace']),
    scenarioFile: z.string().meta({ description: 'The scenario file as given on the command line (it names the output when the scenario has no name).' }),
    scenarioDir: z.string().meta({ description: 'Its directory, absolute: plugin paths are relative to it.' }),
    scenario: z.record(z.string(), z.unknown()).meta({
      description:
        'The scenario as run, --set overrides applied, every default filled in and durations in ns (compare and sweep: before --vary/--grid). When the file is valid only with the varied key, it is the file with --set applied, as written (resolved: false).',
    }),
    resolved: z.boolean().meta({ description: 'scenario is validated and fully defaulted.' }),
    scenarioSha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/)
      .meta({ description: 'sha256 of the scenario as canonical JSON (keys sorted, no spaces): equal hashes, equal scenarios.' }),
    overrides: z
      .object({
        set: z.array(z.string()).meta({ description: '--set path=value, in order.' }),
        metric: z.array(z.string()).optional().meta({ description: '--metric, in order (they set run.metrics, which the scenario records).' }),
        plugin: z.array(z.string()).optional().meta({ description: '--plugin, as given, in order (they add to plugins, which the scenario records with absolute paths).' }),
        vary: z.string().optional().meta({ description: 'compare: --vary as given.' }),
        grid: z.array(z.string()).optional().meta({ description: 'sweep: --grid axes as given.' }),
        gridFile: z.string().optional().meta({ description: 'sweep: --grid-file as given.' }),
        gridFileAxes: z
          .array(z.object({ path: z.string(), values: z.array(z.string()) }).strict())
          .optional()
          .meta({ description: "sweep: the grid file's axes as read, each value as the output's grid shows it (ranges expanded), so a rerun needs no grid file." }),
        workers: z.number().int().positive().optional().meta({ description: 'sweep: worker threads used (with --queue: the worker processes that returned results).' }),
        queue: z.string().optional().meta({ description: 'sweep: --queue as given, its password shown as ***. A rerun runs the sweep here, with the same figures.' }),
        from: z.string().optional().meta({ description: 'trace: --from as given.' }),
        to: z.string().optional().meta({ description: 'trace: --to as given.' }),
      })
      .strict(),
    seeds: z.array(z.number().int()).meta({ description: 'The seeds run (run and trace: the one seed).' }),
    replications: z.number().int().positive(),
    startedAt: z.string().meta({ description: 'Wall-clock start, ISO 8601 UTC.' }),
    wallSeconds: z.number().nonnegative().meta({ description: 'Wall time from start to results, s (ms precision).' }),
  })
  .strict()
  .meta({ description: 'Provenance: what made this output (docs/cli.md, "Provenance"). ipilab rerun <file> makes it again.' });

/** The `meta` block of every output: what made it, enough to run it again (`ipilab rerun`). */
export type Provenance = z.output<typeof provenanceSchema>;

/** JSON with object keys sorted at every level and no spaces: one text per value, for hashing. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}

/** sha256 (hex) of a scenario's canonical JSON. */
export function scenarioSha256(scenario: unknown): string {
  return createHash('sha256').update(canonicalJson(scenario)).digest('hex');
}

/** What a command gives to build its output's `meta` block. */
export interface ProvenanceInput {
  readonly ipilab: Provenance['ipilab'];
  readonly command: Provenance['command'];
  readonly scenarioFile: string;
  readonly scenarioDir: string;
  readonly scenario: Readonly<Record<string, unknown>>;
  readonly resolved: boolean;
  readonly overrides: Provenance['overrides'];
  readonly seeds: readonly number[];
  readonly replications: number;
  /** Wall-clock times come from the caller (the CLI): nothing in the scenario package reads the clock. */
  readonly startedAt: Date;
  readonly wallSeconds: number;
}

/** The provenance block of an output (its key order is the output's). */
export function provenance(p: ProvenanceInput): Provenance {
  // A plain copy: the output must not share objects with the scenario that ran.
  const scenario = JSON.parse(JSON.stringify(p.scenario)) as Record<string, unknown>;
  return {
    ipilab: p.ipilab,
    node: process.version,
    os: process.platform,
    arch: process.arch,
    command: p.command,
    scenarioFile: p.scenarioFile,
    scenarioDir: p.scenarioDir,
    scenario,
    resolved: p.resolved,
    scenarioSha256: scenarioSha256(scenario),
    overrides: p.overrides,
    seeds: [...p.seeds],
    replications: p.replications,
    startedAt: p.startedAt.toISOString(),
    wallSeconds: Math.round(p.wallSeconds * 1000) / 1000,
  };
}
