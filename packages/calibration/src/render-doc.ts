import { COST_FIELDS, COST_NAMES } from './cost-fields';
import { resolveCosts } from './profile';
import { CALIBRATION_PROFILES } from './profiles';

/** The "What each field means" table of docs/calibration.md. */
export function renderFieldTable(): string {
  return ['| field | meaning |', '|---|---|', ...COST_NAMES.map((k) => `| \`${k}\` | ${COST_FIELDS[k]} |`)].join('\n');
}

/** One "Profile" section per profile: every field with value, unit, ns, kind and source. */
export function renderProfileSections(): string {
  return Object.values(CALIBRATION_PROFILES)
    .map((p) => {
      const ns = resolveCosts(p);
      const rows = COST_NAMES.map((k) => {
        const f = p.costs[k];
        const kind = f.estimate === undefined ? 'published' : 'estimate';
        const source = f.estimate === undefined ? f.source : `${f.source}. **Estimate:** ${f.estimate}`;
        return `| \`${k}\` | ${f.value} | ${f.unit} | ${f.unit === 'count' || f.unit === 'ratio' ? '—' : ns[k]} | ${kind} | ${source} |`;
      });
      return [
        `## Profile \`${p.name}\``,
        '',
        `${p.description}. Cycle figures convert at the host's clock (\`host.ghz\`); the ns column shows them on a host at the profile's own ${p.ghz} GHz.`,
        '',
        '| field | value | unit | ns | kind | source and derivation |',
        '|---|---|---|---|---|---|',
        ...rows,
      ].join('\n');
    })
    .join('\n\n');
}

/**
 * The "Clock rate" lists of docs/calibration.md: which fields are cycles (converted at the
 * host's clock), ns (kept) and counts, from the profiles' own units so the lists cannot drift.
 */
export function renderClockRateTable(): string {
  const profiles = Object.values(CALIBRATION_PROFILES);
  const meaning = { cycles: `cycles: converted at \`host.ghz\``, ns: 'ns: kept as measured, whatever the clock', count: 'count: never converted', ratio: 'ratio: dimensionless, never converted' } as const;
  const rows = (['cycles', 'ns', 'count', 'ratio'] as const).map((unit) => {
    const fields = COST_NAMES.filter((k) => profiles.every((p) => p.costs[k].unit === unit));
    return `| ${meaning[unit]} | ${fields.map((k) => `\`${k}\``).join(', ')} |`;
  });
  // A field whose unit differs between profiles follows each profile's unit.
  const mixed = COST_NAMES.filter((k) => new Set(profiles.map((p) => p.costs[k].unit)).size > 1);
  if (mixed.length > 0) {
    rows.push(`| depends on the profile | ${mixed.map((k) => `\`${k}\` (${profiles.map((p) => `${p.costs[k].unit} in ${p.name}`).join(', ')})`).join('; ')} |`);
  }
  return ['| unit | fields |', '|---|---|', ...rows].join('\n');
}

const CLOCK_START = '<!-- clock:begin -->';
const CLOCK_END = '<!-- clock:end -->';
const FIELDS_START = '<!-- fields:begin -->';
const FIELDS_END = '<!-- fields:end -->';
const PROFILES_START = '<!-- profiles:begin -->';
const PROFILES_END = '<!-- profiles:end -->';

/** docs/calibration.md with its generated parts brought up to date. */
export function updateCalibrationDoc(doc: string): string {
  const put = (text: string, a: string, b: string, body: string): string => {
    const i = text.indexOf(a);
    const j = text.indexOf(b);
    if (i < 0 || j < i) throw new Error(`docs/calibration.md: markers ${a} ... ${b} not found`);
    return `${text.slice(0, i + a.length)}\n${body}\n${text.slice(j)}`;
  };
  const withClock = put(doc, CLOCK_START, CLOCK_END, renderClockRateTable());
  return put(put(withClock, FIELDS_START, FIELDS_END, renderFieldTable()), PROFILES_START, PROFILES_END, renderProfileSections());
}
