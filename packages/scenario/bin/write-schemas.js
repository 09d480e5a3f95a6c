#!/usr/bin/env node
// Regenerates the JSON Schemas users' editors and scripts read (pnpm docs:schemas).
const { writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { scenarioJsonSchema, runOutputJsonSchema } = require('../dist');
const root = join(__dirname, '..', '..', '..');
writeFileSync(join(__dirname, '..', 'scenario.schema.json'), `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`);
writeFileSync(join(root, 'docs', 'run-output.schema.json'), `${JSON.stringify(runOutputJsonSchema(), null, 2)}\n`);
process.stdout.write('wrote packages/scenario/scenario.schema.json and docs/run-output.schema.json\n');
