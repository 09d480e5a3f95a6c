import { join } from 'node:path';
import { hostPreset } from '@ipilab/host';
import { closeSweepWorkers, compareScenario, loadScenario, runScenario, runWithSlowdown, sweepScenario, total, type RunOutput } from '@ipilab/scenario';
import { compareReportHtml, runReportHtml, sweepReportHtml } from './index';
import { ranOnCells, ranOnHeatMapSpec, type RanOnCell } from './ran-on';

const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');
const tenVms = join(__dirname, '..', 'test', 'fixtures', 'ten-vms.yaml');

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
  it('a run report has the ledger bars, the interference heat map, the latency distributions and where the vCPUs ran, rendered', async () => {
    const html = await runReportHtml(runWithSlowdown(loadScenario(small)), hostPreset('small-1s-8t'));
    selfContained(html);
    const cs = charts(html);
    expect(cs.map((c) => c.title)).toEqual(["Where each VM's vCPU time went", 'Interference: who waited behind whom', 'Latency distributions', 'Where the vCPUs ran']);
    for (const c of cs) expect(c.width * c.height).toBeGreaterThan(1_000);
    // The latency chart's quantiles, in order, the 99.9th among them.
    const lat = html.slice(html.indexOf('data-title="Latency distributions"'));
    const labels = [...lat.slice(0, lat.indexOf('</figure>')).matchAll(/>(p50|p90|p99|p99\.9|max)</g)].map((m) => m[1]);
    expect([...new Set(labels)]).toEqual(['p50', 'p90', 'p99', 'p99.9', 'max']);
  });

  it('a compare report has the figure and ratio charts with intervals', async () => {
    const html = await compareReportHtml(compareScenario(small, ['run.replications=2'], 'hypervisor.backend=trap,pv'));
    selfContained(html);
    expect(charts(html).map((c) => c.title)).toEqual(['Figure of merit per VM', 'Figure of merit relative to hypervisor.backend = trap']);
    // Where each VM ran, per variant: the small host pins churn's 4 vCPUs and victim's 2 on socket 0.
    expect(html).toContain('<th>ran on: pCPUs (socket share)</th>');
    expect(html.match(/<td>4 pCPUs \(s0 100%\)<\/td>/g)?.length).toBe(2);
    expect(html.match(/<td>2 pCPUs \(s0 100%\)<\/td>/g)?.length).toBe(2);
  });

  it('a sweep report has curves with confidence bands and Amdahl beside measurement', async () => {
    const html = await sweepReportHtml(await sweepScenario(small, ['run.replications=2'], ['vms[0].vcpus=2,4'], { workers: 1 }));
    selfContained(html);
    expect(charts(html).map((c) => c.title)).toEqual(['Figure of merit over vms[0].vcpus', "Amdahl's law beside measurement"]);
    // churn's pCPUs follow its vCPU count; victim keeps its 2.
    expect(html).toContain('<th>ran on: pCPUs (socket share)</th>');
    expect(html).toMatch(/<td>2<\/td><td>churn<\/td>(<td>[^<]*<\/td>){5}<td>2 pCPUs \(s0 100%\)<\/td>/);
    expect(html).toMatch(/<td>4<\/td><td>churn<\/td>(<td>[^<]*<\/td>){5}<td>4 pCPUs \(s0 100%\)<\/td>/);
  }, 60_000);
});

describe('Where the vCPUs ran (run report)', () => {
  const host = hostPreset('skylake-2s-80t');
  let out: RunOutput;
  beforeAll(() => {
    out = runScenario(loadScenario(tenVms));
  });
  const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);

  it('the heat map spec has a cell per VM and host pCPU; each VM\'s cells add up to its ranOn, per pCPU and per socket', () => {
    const values = (ranOnHeatMapSpec(ranOnCells(out, host)).data as { values: RanOnCell[] }).values;
    expect(values.length).toBe(10 * 80);
    // The fixture's VMs do not all sit on one socket: the test would not see a wrong grouping otherwise.
    expect(Object.values(out.vms).some((v) => Object.keys(v.ranOn.socketNs).length === 2)).toBe(true);
    for (const [vm, v] of Object.entries(out.vms)) {
      const mine = values.filter((c) => c.vm === vm);
      expect(mine.map((c) => c.pcpu).sort((a, b) => a - b)).toEqual(host.pcpus.map((p) => p.id));
      expect(sum(mine.map((c) => c.ns))).toBeCloseTo(total(v.ranOn.pcpuNs), 3);
      expect(sum(mine.map((c) => c.ns))).toBeGreaterThan(0);
      for (const c of mine) {
        expect(c.ns).toBe(v.ranOn.pcpuNs[String(c.pcpu)] ?? 0);
        expect(c.socket).toBe(host.pcpu(c.pcpu).socket);
        expect(c.group).toBe(`socket ${c.socket}`);
      }
      for (const s of [0, 1]) expect(sum(mine.filter((c) => c.socket === s).map((c) => c.ns))).toBeCloseTo(v.ranOn.socketNs[String(s)] ?? 0, 3);
      expect(sum(mine.map((c) => c.vmShare))).toBeCloseTo(1, 9);
    }
    // Per pCPU held by any VM, the VMs' parts of it add up to 1.
    for (const p of new Set(values.filter((c) => c.ns > 0).map((c) => c.pcpu))) {
      expect(sum(values.filter((c) => c.pcpu === p).map((c) => c.pcpuShare))).toBeCloseTo(1, 9);
    }
  });

  it('the run report draws it, a tooltip per cell saying VM, pCPU, socket and ms, then each VM\'s share per socket', async () => {
    const html = await runReportHtml(out, host);
    expect(charts(html).map((c) => c.title)).toContain('Where the vCPUs ran');
    const heat = html.slice(html.indexOf('data-title="Where the vCPUs ran"'));
    const tips = [...heat.matchAll(/<title>([^<]*)<\/title>/g)].map((m) => m[1]!.replace(/&#39;/g, "'"));
    expect(tips.length).toBe(10 * 80);
    const msBy = new Map<string, number>();
    for (const t of tips) {
      const m = /^(\S+) on pCPU (\d+) \(socket (\d)\): (?:never held|([\d.]+) ms, [\d.]+ % of the time VMs held this pCPU, [\d.]+ % of \1's pCPU time)$/.exec(t);
      expect(m).not.toBeNull();
      expect(Number(m![3])).toBe(host.pcpu(Number(m![2])).socket);
      msBy.set(m![1]!, (msBy.get(m![1]!) ?? 0) + Number(m![4] ?? 0));
    }
    // Tooltips round to the µs: 80 cells per VM are at most 40 µs off.
    for (const [vm, v] of Object.entries(out.vms)) expect(Math.abs(msBy.get(vm)! - total(v.ranOn.pcpuNs) / 1e6)).toBeLessThan(0.04);
    expect(heat).toContain('<th>socket 0</th><th>socket 1</th>');
    const spanning = Object.entries(out.vms).find(([, v]) => Object.keys(v.ranOn.socketNs).length === 2)!;
    const [name, v] = spanning;
    const pct = (s: string) => `${((100 * v.ranOn.socketNs[s]!) / total(v.ranOn.pcpuNs)).toFixed(1)} %`;
    expect(heat).toContain(`<tr><td>${name}</td><td>${Object.keys(v.ranOn.pcpuNs).length}</td><td>${(total(v.ranOn.pcpuNs) / 1e6).toFixed(3)}</td><td>${pct('0')}</td><td>${pct('1')}</td></tr>`);
  });

  it('refuses a host layout that is not the run\'s rather than label sockets wrongly', () => {
    expect(() => ranOnCells(out, hostPreset('small-1s-8t'))).toThrow(/which the host layout \(8 pCPUs\) does not have/);
    const swapped = { pcpus: host.pcpus.map((p) => ({ id: p.id, socket: 1 - p.socket })) };
    expect(() => ranOnCells(out, swapped)).toThrow(/the host layout does not match the run/);
  });

  it('without a host layout, shows the pCPUs some VM held, not grouped by socket', () => {
    const cells = ranOnCells(out);
    const held = new Set(Object.values(out.vms).flatMap((v) => Object.keys(v.ranOn.pcpuNs).map(Number)));
    expect(new Set(cells.map((c) => c.pcpu))).toEqual(held);
    expect(new Set(cells.map((c) => c.group))).toEqual(new Set(['pCPUs']));
    expect(cells.every((c) => c.socket === null)).toBe(true);
  });
});
