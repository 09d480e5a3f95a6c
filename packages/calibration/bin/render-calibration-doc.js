#!/usr/bin/env node
// Regenerates the generated parts of docs/calibration.md from the profiles (pnpm docs:calibration).
const { readFileSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');
const { updateCalibrationDoc } = require('../dist/render-doc');
const file = join(__dirname, '..', '..', '..', 'docs', 'calibration.md');
writeFileSync(file, updateCalibrationDoc(readFileSync(file, 'utf8')));
process.stdout.write(`updated ${file}\n`);
