#!/usr/bin/env node
// Sets up a machine that has only node and npm, then runs one task. Every step is cheap when
// already done, so `npm start` / `npm test` can be run again and again.
//   node tools/bootstrap.mjs start|test|bench|typecheck [args...]
// (`pnpm ipilab` / `npx ipilab` run the built CLI directly, packages/cli/bin/ipilab.js: once set up
// and built here, they need neither an install check nor a rebuild.)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const bin = (name) => join(root, 'node_modules', '.bin', name);
const pnpm = join(root, 'tools', 'node_modules', '.bin', 'pnpm');

/** Runs a command; set-up chatter goes to stderr so that stdout carries only the task's output. */
function run(cmd, args, { quiet = false } = {}) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: ['inherit', quiet ? 2 : 'inherit', 'inherit'] });
  if (r.error) {
    process.stderr.write(`bootstrap: could not start ${cmd}: ${r.error.message}\n`);
    process.exit(1);
  }
  if (r.status !== 0) process.exit(r.status ?? 1);
}

function setup() {
  if (!existsSync(pnpm)) {
    // pnpm itself is pinned by tools/package-lock.json; its own install script only tunes a
    // global install and is not needed to run it from tools/.
    run('npm', ['ci', '--prefix', join(root, 'tools'), '--no-audit', '--no-fund', '--ignore-scripts'], { quiet: true });
  }
  run(pnpm, ['install', '--frozen-lockfile', '--reporter=append-only'], { quiet: true });
}

function typecheck() {
  // ts-jest only transpiles; the compiler checks types: packages (tsc -b) and tests (check config).
  run(bin('tsc'), ['-b'], { quiet: true });
  run(bin('tsc'), ['-p', 'tsconfig.check.json'], { quiet: true });
}

function test(args) {
  typecheck();
  const dir = mkdtempSync(join(tmpdir(), 'ipilab-jest-'));
  const out = join(dir, 'results.json');
  const r = spawnSync(bin('jest'), ['--ci', '--json', `--outputFile=${out}`, ...args], { cwd: root, stdio: 'inherit' });
  let summary = '';
  if (existsSync(out)) {
    const j = JSON.parse(readFileSync(out, 'utf8'));
    summary = `jest: ${j.numPassedTests} passed, ${j.numFailedTests} failed${j.numPendingTests ? `, ${j.numPendingTests} skipped` : ''}`;
  }
  rmSync(dir, { recursive: true, force: true });
  if (summary) process.stdout.write(`${summary}\n`);
  process.exit(r.status ?? 1);
}

const [task, ...args] = process.argv.slice(2);
const cli = join(root, 'packages', 'cli', 'dist', 'main.js');
switch (task) {
  case 'start':
    // The flagship what-if: a TLB-shootdown-heavy VM beside a compute victim, trap vs pv.
    setup();
    run(bin('tsc'), ['-b'], { quiet: true });
    run(process.execPath, [cli, 'compare', join(root, 'examples', 'scenarios', 'noisy-neighbour.yaml'), '--vary', 'hypervisor.backend=trap,pv', ...args]);
    break;
  case 'bench':
    setup();
    run(bin('tsc'), ['-b'], { quiet: true });
    run(process.execPath, [join(root, 'packages', 'bench', 'dist', 'main.js'), ...args]);
    break;
  case 'test':
    setup();
    test(args);
    break;
  case 'typecheck':
    setup();
    typecheck();
    break;
  default:
    process.stderr.write(`bootstrap: unknown task ${JSON.stringify(task)}; expected start, test, bench or typecheck\n`);
    process.exit(2);
}
