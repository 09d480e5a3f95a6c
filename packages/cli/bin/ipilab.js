#!/usr/bin/env node
'use strict';
// The `ipilab` command from the repository root: `npx ipilab …`, `pnpm ipilab …`,
// `npm run ipilab -- …`. It runs the CLI that `npm start` / `npm test` built, at once: no install
// check and no rebuild on every call (those cost seconds and printed set-up lines). It only warns,
// on stderr, when a source file is newer than its package's build, so edits are not silently ignored.
const { existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..', '..', '..');
const cli = join(root, 'packages', 'cli', 'dist', 'main.js');

if (!existsSync(cli)) {
  process.stderr.write('ipilab: not built yet: run `npm start` or `npm test` once (they install and build), then try again\n');
  process.exit(2);
}

/** A source file newer than its package's last build (tsc -b writes dist/.tsbuildinfo), or undefined. ~5 ms. */
function staleSource() {
  const packages = join(root, 'packages');
  let names;
  try {
    names = readdirSync(packages);
  } catch {
    return undefined;
  }
  for (const name of names) {
    let built;
    try {
      built = statSync(join(packages, name, 'dist', '.tsbuildinfo')).mtimeMs;
    } catch {
      continue;
    }
    const found = newer(join(packages, name, 'src'), built);
    if (found !== undefined) return found;
  }
  return undefined;
}

function newer(dir, than) {
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return undefined;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      const found = newer(p, than);
      if (found !== undefined) return found;
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') && statSync(p).mtimeMs > than) {
      return p;
    }
  }
  return undefined;
}

const stale = staleSource();
if (stale !== undefined) {
  process.stderr.write(`ipilab: warning: ${stale.slice(root.length + 1)} changed since the last build; run \`pnpm build\` (or npm start) to use it\n`);
}

void require(cli).runAsProcess(process.argv.slice(2));
