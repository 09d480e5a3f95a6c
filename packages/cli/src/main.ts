#!/usr/bin/env node
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { scenarioTopology } from '@ipilab/scenario';
import { debugWanted, EXIT, reportFailure } from './failure';
import { compareTable, runCsv, runTables, sweepTable } from './format';
import { presetsText } from './presets';

export { EXIT } from './failure';

const collect = (v: string, prev: string[]): string[] => [...prev, v];

/** Writes one file atomically (temporary name, then rename). */
function writeFileAtomic(file: string, body: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, body);
  renameSync(tmp, file);
}

type Report = typeof import('@ipilab/report');
const report = (): Report => require('@ipilab/report') as Report;

/** Writes files into `dir` all or nothing: each goes to a temporary name first. */
function writeOutputs(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  const staged = Object.entries(files).map(([name, body]) => {
    const tmp = join(dir, `.${name}.${process.pid}.tmp`);
    writeFileSync(tmp, body);
    return [tmp, join(dir, name)] as const;
  });
  for (const [tmp, final] of staged) renameSync(tmp, final);
}

/** Some sweep runs failed (the others were reported). */
class SweepFailures extends Error {}

export function buildProgram(out: (s: string) => void): Command {
  const program = new Command('ipilab')
    .description('What-if analyses of inter-processor interrupts on virtualised NUMA hosts.')
    .exitOverride()
    .configureOutput({ writeOut: out, writeErr: (s) => process.stderr.write(s), outputError: (s) => process.stderr.write(s) })
    .showHelpAfterError('(ipilab --help for usage)')
    .option('--debug', 'on an internal error, also print its stack trace (as IPILAB_DEBUG=1 does)');

  program
    .command('run')
    .description('run a scenario and print where each VM\'s time went and who waited behind whom')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--set <path=value>', 'override a scenario key, e.g. hypervisor.backend=pv or vms[0].vcpus=64 (repeatable)', collect, [])
    .addOption(new Option('--json', 'print one JSON document (docs/cli.md)').conflicts('csv'))
    .option('--csv', 'print one CSV row per VM')
    .option('--out <dir>', 'also write run.json and run.csv into this directory')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .action(async (file: string, o: { set: string[]; json?: boolean; csv?: boolean; out?: string; html?: string }) => {
      const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
      const loaded = s.loadScenario(file, o.set);
      const result = s.runWithSlowdown(loaded);
      if (o.html !== undefined) writeFileAtomic(o.html, await report().runReportHtml(result, scenarioTopology(loaded.scenario)));
      const json = `${JSON.stringify(s.toJsonValue(result), null, 2)}\n`;
      if (o.out !== undefined) writeOutputs(o.out, { 'run.json': json, 'run.csv': runCsv(result) });
      out(o.json === true ? json : o.csv === true ? runCsv(result) : runTables(result));
    });

  program
    .command('compare')
    .description('run a scenario under each value of one key, with replications and 95% confidence intervals')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .requiredOption('--vary <path=v1,v2,...>', 'the key to vary and its values, e.g. hypervisor.backend=trap,pv, vms[0].pcpus=[0,1],[2,3] or vms[0].vcpus=2..32*2 (once)', collect, [])
    .option('--set <path=value>', 'override a scenario key for every variant (repeatable)', collect, [])
    .option('--json', 'print one JSON document')
    .option('--out <dir>', 'also write compare.json into this directory')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .action(async (file: string, o: { vary: string[]; set: string[]; json?: boolean; out?: string; html?: string }) => {
      const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
      const tty = process.stderr.isTTY === true && o.json !== true;
      const result = s.compareScenario(file, o.set, o.vary, tty ? (d, t) => process.stderr.write(`\rrun ${d}/${t}${d === t ? '\n' : ''}`) : undefined);
      if (o.html !== undefined) writeFileAtomic(o.html, await report().compareReportHtml(result));
      const json = `${JSON.stringify(s.toJsonValue(result), null, 2)}\n`;
      if (o.out !== undefined) writeOutputs(o.out, { 'compare.json': json });
      out(o.json === true ? json : compareTable(result));
    });

  program
    .command('sweep')
    .description('run every point of a grid of scenario keys in parallel, with replications and 95% confidence intervals')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--grid <path=v1,v2,...>', 'an axis of the grid, e.g. vms[0].vcpus=2,4,8, vms[0].vcpus=2..32*2 or vms[0].pcpus=[0,1],[2,3] (repeatable)', collect, [])
    .option('--grid-file <file>', 'axes from a YAML file: a mapping of paths to lists of values or ranges (docs/cli.md)')
    .option('--set <path=value>', 'override a scenario key for every point (repeatable)', collect, [])
    .option('--workers <n>', 'worker threads (default: the machine\'s parallelism)')
    .option('--json', 'print one JSON document')
    .option('--csv', 'print one CSV row per point and VM')
    .option('--out <dir>', 'also write sweep.json and sweep.csv into this directory')
    .option('--html <file>', 'also write a self-contained HTML report with charts')
    .action(async (file: string, o: { grid: string[]; gridFile?: string; set: string[]; workers?: string; json?: boolean; csv?: boolean; out?: string; html?: string }) => {
      const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
      let workers: number | undefined;
      if (o.workers !== undefined) {
        workers = Number(o.workers);
        if (!Number.isSafeInteger(workers) || workers < 1) throw new s.ScenarioError(`--workers: expected a positive integer, got ${JSON.stringify(o.workers)}`);
      }
      // A progress bar with ETA on a terminal; nothing when output is piped.
      const bar = process.stderr.isTTY === true ? new SingleBar({ stream: process.stderr, format: 'sweep [{bar}] {value}/{total} runs | ETA {eta_formatted}', hideCursor: true }) : undefined;
      let started = false;
      const result = await s.sweepScenario(file, o.set, o.grid, {
        ...(workers === undefined ? {} : { workers }),
        ...(o.gridFile === undefined ? {} : { gridFile: o.gridFile }),
        onProgress: (done, total) => {
          if (bar === undefined) return;
          if (!started) {
            bar.start(total, 0);
            started = true;
          }
          bar.update(done);
          if (done === total) bar.stop();
        },
      });
      const json = `${JSON.stringify(s.toJsonValue(result), null, 2)}\n`;
      const csv = s.sweepCsv(result);
      if (o.out !== undefined) writeOutputs(o.out, { 'sweep.json': json, 'sweep.csv': csv });
      if (o.html !== undefined) writeFileAtomic(o.html, await report().sweepReportHtml(result));
      out(o.json === true ? json : o.csv === true ? csv : sweepTable(result));
      const failed = result.points.reduce((n, p) => n + p.errors.length, 0);
      if (failed > 0) {
        for (const p of result.points) for (const e of p.errors) process.stderr.write(`ipilab: sweep point ${JSON.stringify(p.params)} seed ${e.seed} failed: ${e.message}\n`);
        throw new SweepFailures(`${failed} sweep run(s) failed`);
      }
    });

  program
    .command('trace')
    .description('run a scenario and write a Chrome/Perfetto trace (load it in ui.perfetto.dev)')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .requiredOption('--out <file>', 'trace file to write (JSON trace-event format)')
    .option('--from <time>', 'keep only events from this simulated time (e.g. 1ms)')
    .option('--to <time>', 'keep only events before this simulated time (e.g. 2ms)')
    .option('--set <path=value>', 'override a scenario key (repeatable)', collect, [])
    .action((file: string, o: { out: string; from?: string; to?: string; set: string[] }) => {
      const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
      const time = (flag: string, v: string | undefined): number | undefined => {
        if (v === undefined) return undefined;
        const ns = s.parseDuration(/^\d+(\.\d+)?$/.test(v) ? Number(v) : v);
        if (ns === undefined) throw new s.ScenarioError(`--${flag}: expected a time such as 1ms or 250us, got ${JSON.stringify(v)}`);
        return ns;
      };
      const from = time('from', o.from);
      const to = time('to', o.to);
      const trace = s.traceScenario(s.loadScenario(file, o.set), { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) });
      writeFileAtomic(o.out, JSON.stringify(trace));
      out(`wrote ${trace.traceEvents.length} trace events to ${o.out}\n`);
    });

  program
    .command('validate')
    .description('check a scenario file without running it')
    .argument('<scenario>', 'scenario file (YAML or JSON)')
    .option('--set <path=value>', 'override a scenario key (repeatable)', collect, [])
    .action((file: string, o: { set: string[] }) => {
      const s = require('@ipilab/scenario') as typeof import('@ipilab/scenario');
      const l = s.loadScenario(file, o.set);
      out(`${file}: valid (${l.scenario.vms.length} VM spec(s), ${(l.scenario.run.duration / 1e6).toFixed(3)} ms, ${l.scenario.run.replications} replication(s))\n`);
    });

  program
    .command('presets')
    .description('list host presets, calibration profiles, IPI backends, shootdown strategies and workloads')
    .option('--json', 'print one JSON document')
    .action((o: { json?: boolean }) => out(presetsText(o.json === true)));

  return program;
}

/** Runs the CLI; resolves to the exit code. Errors become one line per problem on stderr (reportFailure); a stack trace only with --debug. */
export async function main(argv: readonly string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  try {
    await buildProgram(out).parseAsync([...argv], { from: 'user' });
    return EXIT.ok;
  } catch (e) {
    if (e instanceof SweepFailures) return EXIT.runError;
    if (e instanceof CommanderError) return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    return reportFailure(e, debugWanted(argv));
  }
}

if (require.main === module) void main(process.argv.slice(2)).then((code) => (process.exitCode = code));
