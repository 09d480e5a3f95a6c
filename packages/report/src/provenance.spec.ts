import { join } from 'node:path';
import { compareScenario, loadScenario, provenance, runScenario, type Provenance } from '@ipilab/scenario';
import { compareReportHtml, runReportHtml } from './index';

const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');

/** The page's provenance, read back from its JSON block. */
function metaOf(html: string): unknown {
  const m = /<pre id="ipilab-meta">([\s\S]*?)<\/pre>/.exec(html);
  if (m === null) return undefined;
  const text = m[1]!.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');
  return JSON.parse(text);
}

describe('provenance in HTML reports', () => {
  const loaded = loadScenario(small, ['run.seed=3']);
  const meta: Provenance = provenance({
    ipilab: { version: '1.2.3', commit: 'f'.repeat(40), modified: true },
    command: 'run',
    scenarioFile: small,
    scenarioDir: loaded.dir,
    scenario: loaded.scenario,
    resolved: true,
    overrides: { set: ['run.seed=3'] },
    seeds: [3],
    replications: 1,
    startedAt: new Date(0),
    wallSeconds: 0.5,
  });

  it('a report whose output carries meta ends with a provenance table and the block itself as JSON', async () => {
    const html = await runReportHtml({ ...runScenario(loaded), meta });
    expect(metaOf(html)).toEqual(meta);
    const section = html.slice(html.indexOf('<section class="provenance"'));
    expect(section).toContain(`<td>1.2.3 (commit ${'f'.repeat(40)}, with uncommitted changes)</td>`);
    expect(section).toContain(`<td>${meta.scenarioSha256}</td>`);
    expect(section).toContain('<td>--set run.seed=3</td>');
    expect(section).toContain('<td>1970-01-01T00:00:00.000Z</td>');
    expect(html).not.toMatch(/<script/i);
  });

  it('compare reports show the --vary they ran; an output without meta has no section', async () => {
    const cmp = compareScenario(small, [], 'hypervisor.backend=trap,pv');
    const html = await compareReportHtml({ ...cmp, meta: { ...meta, command: 'compare', overrides: { set: [], vary: 'hypervisor.backend=trap,pv' } } });
    expect(html).toContain('<td>--vary hypervisor.backend=trap,pv</td>');
    expect(metaOf(await compareReportHtml(cmp))).toBeUndefined();
    expect(await compareReportHtml(cmp)).not.toContain('class="provenance"');
  });
});
