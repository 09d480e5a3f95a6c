import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { updateCalibrationDoc } from './render-doc';

describe('docs/calibration.md', () => {
  it('carries the current profiles: every field with value, unit, ns, kind and source (pnpm docs:calibration regenerates it)', () => {
    const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'calibration.md'), 'utf8');
    expect(updateCalibrationDoc(doc)).toBe(doc);
  });
});
