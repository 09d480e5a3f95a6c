#!/usr/bin/env node
import { Command, CommanderError, Option } from 'commander';
import { compareCommand, ExitCode, Interrupted, OutputsNotWritten, runCommand, SweepFailures, sweepCommand, traceCommand, type Io } from './commands';
import { debugWanted, EXIT, reportFailure } from './failure';
import { writeFailureReason } from './outputs';
import { NotReproduced, rerunCommand } from './rerun';
import { UsageError } from './usage-error';
import type { WallClock } from './progress';
import { versionText } from './version';
import { useCompileCache } from './compile-cache';

export { EXIT } from './failure';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

// Only commander and the CLI's own light modules load before the arguments are parsed: the model,
// zod, YAML, inversify and the report renderer are required by the command that needs them
// (commands.ts), so --help and --version answer at once.

/** How main was started: on `--timeout`'s watched thread (watchdog-worker.ts), `watched` is set. */
export interface MainOptions {
  readonly watched?: AbortSignal;
}

/** Flags every command that can be watched takes. */
type Watchable = { timeout?: string; out?: string; html?: string };

export function buildProgram(out: (s: string) => void, err: Io['err'] = process.stderr, clock?: WallClock, argv: readonly string[] = [], options: MainOptions = {}): Command {
  const io: { -readonly [K in keyof Io]: Io[K] } = { out, err, ...(clock === undefined ? {} : { clock }), ...(options.watched === undefined ? {} : { watched: options.watched }) };
  /**
   * With --timeout (and not on the watched thread already), runs the whole command line on a
   * thread that can be stopped (watchdog.ts); else `run()` here.
   */
  const watchable = async (command: 'run' | 'compare' | 'sweep' | 'trace', o: Watchable, run: () => Promise<void> | void): Promise<void> => {
    if (o.timeout === undefined || io.watched !== undefined) return run();
    const w = require('./watchdog') as typeof import('./watchdog');
    const timeoutMs = w.parseWallTime('--timeout', o.timeout);
    const code = await w.underWatchdog({ argv, command, timeoutMs, shown: o.timeout, outputDirs: w.outputDirsOf(o, command === 'trace') }, io);
    if (code !== EXIT.ok) throw new ExitCode(code);
  };
  const timeoutHelp = 'stop the command if it has not finished within this wall-clock time, e.g. 90s, 10m, 1h: one line, exit 1 (a sweep writes what finished, resumable)';
  const program = new Command('ipilab')
    .description('What-if analyses of inter-processor interrupts on virtualised NUMA hosts.')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (s) => err.write(s), outputError: (s) => err.write(s) })
    .showHelpAfterError('(ipilab --help for usage)')
    .option('--debug', 'on an internal error, also print its stack trace (as IPILAB_DEBUG=1 does)')
    .option('--max-input-size <size>', 'the largest input file read, e.g. 8MiB (default: 1MiB for scenario and grid files, 64MiB for a result rerun reads)')
    .hook('preAction', () => {
      const size = (program.opts() as { maxInputSize?: string }).maxInputSize;
      if (size === undefined) return;
      const bytes = (require('@ipilab/scenario') as typeof import('@ipilab/scenario')).parseByteSize(size);
      if (bytes === undefined) throw new UsageError(`--max-input-size: expected a size such as 8MiB, 500KB or 100000 (bytes), got ${JSON.stringify(size)}`);
      io.maxInputBytes = bytes;
    })
    .option('-V, --version', 'print the version (and the git commit when run from a checkout)')
    .on('option:version', () => {
      out(versionText());
      throw new CommanderError(0, 'ipilab.version', '');
    });

  program
    .command('run')
    .description('run a scenario and print where each VM\'s time went and who waited behind whom')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--set <path=value>', 'override a scenario key, e.g. hypervisor.backend=pv or vms[0].vcpus=64 (repeatable)', collect, [])
    .option('--plugin <file|package>', 'load a plugin (a file, a package folder or an installed package name), added to the scenario\'s plugins (repeatable; docs/plugins.md)', collect, [])
    .option('--metric <metric>', 'judge each VM by this figure (repeatable; sets run.metrics): default, throughput, p99:shootdown, p99.9:ipiSendToHandler, exits/s, share:guest, or VM=... for one VM (docs/cli.md)', collect, [])
    .addOption(new Option('--json', 'print one JSON document (docs/cli.md)').conflicts('csv'))
    .option('--csv', 'print one CSV row per VM')
    .option('--out <dir>', 'also write run.json, run.csv and its provenance run.csv.meta.json into this directory (created if missing)')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--timeout <duration>', timeoutHelp)
    .action((file: string, o: { set: string[]; plugin: string[]; metric: string[]; json?: boolean; csv?: boolean; out?: string; html?: string; timeout?: string }) => watchable('run', o, () => runCommand(file, o, io)));

  program
    .command('compare')
    .description('run a scenario under each value of one key, with replications and 95% confidence intervals')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .requiredOption('--vary <path=v1,v2,...>', 'the key to vary and its values, e.g. hypervisor.backend=trap,pv, vms[0].pcpus=[0,1],[2,3] or vms[0].vcpus=2..32*2 (once)', collect, [])
    .option('--set <path=value>', 'override a scenario key for every variant (repeatable)', collect, [])
    .option('--plugin <file|package>', 'load a plugin (a file, a package folder or an installed package name), added to the scenario\'s plugins (repeatable; docs/plugins.md)', collect, [])
    .option('--metric <metric>', 'judge each VM by this figure (repeatable; sets run.metrics): default, throughput, p99:shootdown, p99.9:ipiSendToHandler, exits/s, share:guest, or VM=... for one VM (docs/cli.md)', collect, [])
    .option('--json', 'print one JSON document')
    .option('--out <dir>', 'also write compare.json into this directory (created if missing)')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--timeout <duration>', timeoutHelp)
    .action((file: string, o: { vary: string[]; set: string[]; plugin: string[]; metric: string[]; json?: boolean; out?: string; html?: string; timeout?: string }) => watchable('compare', o, () => compareCommand(file, o, io)));

  program
    .command('sweep')
    .description('run every point of a grid of scenario keys in parallel, with replications and 95% confidence intervals')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--grid <path=v1,v2,...>', 'an axis of the grid, e.g. vms[0].vcpus=2,4,8, vms[0].vcpus=2..32*2 or vms[0].pcpus=[0,1],[2,3] (repeatable)', collect, [])
    .option('--grid-file <file>', 'axes from a YAML file: a mapping of paths to lists of values or ranges (docs/cli.md)')
    .option('--set <path=value>', 'override a scenario key for every point (repeatable)', collect, [])
    .option('--plugin <file|package>', 'load a plugin (a file, a package folder or an installed package name), added to the scenario\'s plugins (repeatable; docs/plugins.md)', collect, [])
    .option('--metric <metric>', 'judge each VM by this figure (repeatable; sets run.metrics): default, throughput, p99:shootdown, p99.9:ipiSendToHandler, exits/s, share:guest, or VM=... for one VM (docs/cli.md)', collect, [])
    .option('--workers <n>', 'worker threads (default: the machine\'s parallelism)')
    .option('--json', 'print one JSON document')
    .option('--csv', 'print one CSV row per point and VM')
    .option('--out <dir>', 'also write sweep.json, sweep.csv and its provenance sweep.csv.meta.json into this directory (created if missing)')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .option('--timeout <duration>', timeoutHelp)
    .option('--resume', 'finish an interrupted sweep: run only the runs its journal in --out does not have (with --queue: the runs Redis does not have) (same arguments otherwise)')
    .option('--queue <redis://host:port[/db]>', 'queue the runs in Redis for `ipilab worker`s on any machine instead of running them here; same outputs (docs/scale-out.md)')
    .action((file: string, o: { grid: string[]; gridFile?: string; set: string[]; plugin: string[]; metric: string[]; workers?: string; resume?: boolean; queue?: string; json?: boolean; csv?: boolean; out?: string; html?: string; timeout?: string }) => watchable('sweep', o, () => sweepCommand(file, o, io)));

  program
    .command('worker')
    .description('take queued sweeps\' runs from Redis and run them here, until Ctrl-C (docs/scale-out.md)')
    .requiredOption('--queue <redis://host:port[/db]>', 'the Redis the sweeps were queued in (sweep --queue)')
    .option('--concurrency <n>', 'runs at once, each on its own thread (default 1; about one per core)')
    .option('--stalled-after <duration>', 'give a run to another worker when its worker has not been heard from for this long, e.g. 30s (default 30s)')
    .option('--exit-when-idle <duration>', 'stop once there has been no run to take for this long, e.g. 60s (a worker started as a batch job); default: run until Ctrl-C')
    .action((o: { queue: string; concurrency?: string; stalledAfter?: string; exitWhenIdle?: string }) => (require('./queue-commands') as typeof import('./queue-commands')).workerCommand(o, io));

  program
    .command('trace')
    .description('run a scenario and write a Chrome/Perfetto trace (load it in ui.perfetto.dev)')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .requiredOption('--out <file>', 'trace file to write (JSON trace-event format)')
    .option('--from <time>', 'keep only events from this simulated time (e.g. 1ms)')
    .option('--to <time>', 'keep only events before this simulated time (e.g. 2ms)')
    .option('--max-size <size>', 'refuse a trace larger than this, estimated early in the run (default 1GB, about what ui.perfetto.dev opens; e.g. 4GB)')
    .option('--set <path=value>', 'override a scenario key (repeatable)', collect, [])
    .option('--plugin <file|package>', 'load a plugin (a file, a package folder or an installed package name), added to the scenario\'s plugins (repeatable; docs/plugins.md)', collect, [])
    .option('--timeout <duration>', timeoutHelp)
    .action((file: string, o: { out: string; from?: string; to?: string; maxSize?: string; set: string[]; plugin: string[]; timeout?: string }) => watchable('trace', o, () => traceCommand(file, o, io)));

  program
    .command('validate')
    .description('check a scenario file without running it')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--set <path=value>', 'override a scenario key (repeatable)', collect, [])
    .option('--plugin <file|package>', 'load a plugin (a file, a package folder or an installed package name), added to the scenario\'s plugins (repeatable; docs/plugins.md)', collect, [])
    .option('--metric <metric>', 'check these figures of merit as run would (repeatable; sets run.metrics)', collect, [])
    .action((file: string, o: { set: string[]; plugin: string[]; metric: string[] }) => {
      const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
      // Every check run makes, plugins loaded and composed included.
      const l = s.loadScenarioRef(s.sourceOf(file, io.maxInputBytes), (require('./commands') as typeof import('./commands')).overridesOf(o, {}));
      out(`${file}: valid (${l.scenario.vms.length} VM spec(s), ${(l.scenario.run.duration / 1e6).toFixed(3)} ms, ${l.scenario.run.replications} replication(s))\n`);
    });

  program
    .command('sweeps')
    .description('list the sweeps queued in Redis (sweep --queue) with their runs and workers, or drop one (docs/scale-out.md)')
    .requiredOption('--queue <redis://host:port[/db]>', 'the Redis the sweeps were queued in')
    .option('--json', 'print one JSON document')
    .option('--drop <queue>', 'remove this sweep from Redis for good: its waiting runs and the results no coordinator collected')
    .action((o: { queue: string; json?: boolean; drop?: string }) => (require('./queue-commands') as typeof import('./queue-commands')).sweepsCommand(o, io));

  program
    .command('init-plugin')
    .description('write a plugin package with a working example policy, a test with @ipilab/testing\'s laws and a scenario (docs/plugins.md)')
    .argument('<dir>', 'the folder to write it in (new or empty)')
    .option('--family <family>', 'what it plugs in: backend (an IPI backend), strategy (a TLB shootdown strategy), placement (a vCPU placement), balancer (a guest load balancer), workload, preset (a host preset) or profile (a calibration profile)', 'backend')
    .option('--name <name>', 'the name scenarios pick it by (default: the folder\'s name)')
    .action((dir: string, o: { family?: string; name?: string }) => (require('./init-plugin') as typeof import('./init-plugin')).initPluginCommand(dir, o, io));

  program
    .command('presets')
    .description('list every name a scenario can give: host presets, calibration profiles, IPI backends, host and guest schedulers, placements, shootdown strategies, workloads')
    .option('--json', 'print one JSON document')
    .option('--plugin <file|package>', 'also list what a plugin registers (repeatable; docs/plugins.md)', collect, [])
    .action((o: { json?: boolean; plugin: string[] }) => out((require('./presets') as typeof import('./presets')).presetsText(o.json === true, o.plugin)));

  program
    .command('rerun')
    .description('run again what made a JSON output, from its meta block alone, and print the same JSON (identical apart from the times)')
    .argument('<result>', 'a JSON output of run, compare, sweep or trace (or a CSV\'s .csv.meta.json)')
    .option('--check', 'print whether the rerun reproduces the file instead of the JSON; exit 1 if it does not')
    .option('--out <path>', 'also write the output files again: the directory (run, compare, sweep) or the trace file (trace)')
    .option('--html <file>', 'also write the HTML report (run, compare, sweep)')
    .option('--max-size <size>', 'the largest trace to write again (trace; default 1GB)')
    .action((file: string, o: { check?: boolean; out?: string; html?: string; maxSize?: string }) => rerunCommand(file, o, io));

  program
    .command('litmus')
    .description('check C litmus tests against the Linux kernel memory model, with ipilab\'s IPI and TLB extensions, and print herd7\'s output (docs/ordering.md)')
    .argument('<path...>', '.litmus files, or directories to search for them')
    .option('--trace', 'also print one allowed execution satisfying the condition, step by step')
    .option('--sample [n]', 'explore n random candidate executions (default 10000) instead of enumerating them all')
    .option('--seed <n>', 'the explorer\'s seed (with --sample; default 42)')
    .option('--judge', 'compare each Observation with the test\'s "Result:" line; exit 1 on a mismatch')
    .option('--json', 'print one JSON document')
    .option('--time', 'print herd7\'s Time line (wall clock)')
    .option('--max-candidates <n>', 'give up on a test after this many candidate executions (default 5000000)')
    .action((paths: string[], o: import('./litmus-command').LitmusFlags) => (require('./litmus-command') as typeof import('./litmus-command')).litmusCommand(paths, o, io));

  return program;
}

/**
 * Runs the CLI; resolves to the exit code. Errors become one line per problem on stderr
 * (reportFailure); a stack trace only with --debug. `err` is stderr (progress is drawn there when
 * it is a terminal); `clock` the wall clock progress reads.
 */
export async function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s), err: Io['err'] = process.stderr, clock?: WallClock, options: MainOptions = {}): Promise<number> {
  try {
    await buildProgram(out, err, clock, argv, options).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    // The command ran on --timeout's thread, which reported everything.
    if (e instanceof ExitCode) return e.code;
    // Already reported where they happened.
    if (e instanceof SweepFailures || e instanceof NotReproduced) return EXIT.runError;
    // As a shell reports a command a signal ended: 128 + its number (SIGINT 130, SIGTERM 143).
    if (e instanceof Interrupted) return e.signal === 'timeout' ? EXIT.runError : 128 + (e.signal === 'SIGINT' ? 2 : 15);
    if (e instanceof OutputsNotWritten) return EXIT.notWritten;
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportFailure(e, debugWanted(argv), (s) => void err.write(s));
  }
}

/**
 * Runs the CLI as this process, on its stdout: sets the exit code. A reader that goes away
 * (`ipilab run x --json | head -c1`: EPIPE) is not an error — the output stops and the exit code
 * is the command's; a stdout that cannot be written (`> /dev/full`: ENOSPC, or EFBIG, EIO) is
 * one line on stderr and exit 3, without a stack.
 */
export async function runAsProcess(argv: readonly string[], stdout: NodeJS.WritableStream = process.stdout, stderr: NodeJS.WritableStream = process.stderr): Promise<void> {
  // Before a command loads the model: its modules compile from Node's cache when Node has one.
  useCompileCache();
  let broken = false;
  let failed = false;
  stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (broken || failed) return;
    if (e.code === 'EPIPE') {
      broken = true;
      return;
    }
    failed = true;
    stderr.write(`ipilab: could not write to stdout: ${writeFailureReason(e)}\n`);
    if (process.exitCode === undefined || process.exitCode === EXIT.ok) process.exitCode = EXIT.notWritten;
  });
  const code = await main(argv, (s) => {
    if (!broken && !failed) stdout.write(s);
  });
  if (!(failed && code === EXIT.ok)) process.exitCode = code;
}

if (require.main === module) void runAsProcess(process.argv.slice(2));
