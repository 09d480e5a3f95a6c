import { join } from 'node:path';
import { closeSweepWorkers, compareScenario, loadScenario, runWithSlowdown, sweepScenario } from '@ipilab/scenario';
import { compareReportHtml, runReportHtml, sweepReportHtml } from './index';

const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');

/** Charts by title, each with its rendered SVG's width and height. */
export function charts(html: string): { title: string; width: number; height: number }[] {
  return [...html.matchAll(/<figure class="chart" data-title="([^"]*)">.*?<svg[^>]*?width="(\d+(?:\.\d+)?)"[^>]*?height="(\d+(?:\.\d+)?)"/gs)].map((m) => ({ title: m[1]!.replace(/&#39;/g, "'"), width: Number(m[2]), height: Number(m[3]) }));
}

/** Self-contained: no script, nothing fetched (the only URLs are SVG namespaces). */
function selfContained(html: string): void {
  expect(html).not.toMatch(/<script/i);
  const urls = [...html.matchAll(/(?:src|href)\s*=\s*"([^"]*)"/g)].map((m) => m[1]);
  expect(urls).toEqual([]);
  expect(html.replace(/xmlns(:\w+)?="http:\/\/www\.w3\.org\/[^"]*"/g, '')).not.toMatch(/https?:\/\//);
}

describe('HTML reports', () => {
  afterAll(closeSweepWorkers);
  it('a run report has the ledger bars, the interference heat map and the latency distributions, rendered', async () => {
    const html = await runReportHtml(runWithSlowdown(loadScenario(small)));
    selfContained(html);
    const cs = charts(html);
    expect(cs.map((c) => c.title)).toEqual(["Where each VM's vCPU time went", 'Interference: who waited behind whom', 'Latency distributions']);
    for (const c of cs) expect(c.width * c.height).toBeGreaterThan(1_000);
  });

  it('a compare report has the ratio chart with intervals', async () => {
    const html = await compareReportHtml(compareScenario(small, ['run.replications=2'], 'hypervisor.backend=trap,pv'));
    selfContained(html);
    expect(charts(html).map((c) => c.title)).toEqual(['Figure of merit relative to hypervisor.backend = trap']);
  });

  it('a sweep report has curves with confidence bands and Amdahl beside measurement', async () => {
    const html = await sweepReportHtml(await sweepScenario(small, ['run.replications=2'], ['vms[0].vcpus=2,4'], { workers: 1 }));
    selfContained(html);
    expect(charts(html).map((c) => c.title)).toEqual(['Figure of merit over vms[0].vcpus', "Amdahl's law beside measurement"]);
  }, 60_000);
});
