import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CALIBRATION_PROFILES, COST_NAMES } from './index';

describe('docs/calibration.md', () => {
  const doc = readFileSync(join(__dirname, '..', '..', '..', 'docs', 'calibration.md'), 'utf8');

  it('lists every field of every profile with its value, unit and kind', () => {
    for (const p of Object.values(CALIBRATION_PROFILES)) {
      const section = doc.slice(doc.indexOf(`## Profile \`${p.name}\``));
      expect(section.length).toBeGreaterThan(0);
      for (const k of COST_NAMES) {
        const f = p.costs[k];
        expect(section).toContain(`| \`${k}\` | ${f.value} | ${f.unit} |`);
        expect(section).toContain(f.source.slice(0, 40));
      }
    }
  });
});
