import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { hostPreset } from '@ipilab/host';
import { closeSweepWorkers, compareScenario, loadScenario, runScenario, runWithSlowdown, sweepScenario } from '@ipilab/scenario';
import type { Browser } from 'playwright-core';
import { compareReportHtml, runReportHtml, sweepReportHtml } from './index';
import { OKABE_ITO } from './palette';

const CHROMIUM = process.env['IPILAB_CHROMIUM'] ?? '/usr/bin/chromium';
const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');
const tenVms = join(__dirname, '..', 'test', 'fixtures', 'ten-vms.yaml');
const noisyNeighbour = join(__dirname, '..', '..', '..', 'examples', 'scenarios', 'noisy-neighbour.yaml');
const mixedUnits = join(__dirname, '..', 'test', 'fixtures', 'mixed-units.yaml');
const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const available = existsSync(CHROMIUM);
if (!available && process.env['CI'] !== undefined) {
  throw new Error(`${CHROMIUM} not found: CI must install Debian's chromium (see .ci/run) to test the reports in a real browser`);
}
const maybe = available ? describe : describe.skip;

/** Opens each report in headless Chromium and checks every chart rendered, offline. */
maybe('HTML reports in headless Chromium', () => {
  jest.setTimeout(120_000);
  afterAll(closeSweepWorkers);
  it('every chart renders with a visible size, nothing is fetched, nothing errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-report-'));
    const files = {
      run: await runReportHtml(runWithSlowdown(loadScenario(small, ['run.slowdownVsAlone=true'])), hostPreset('small-1s-8t')),
      sweep: await sweepReportHtml(await sweepScenario(small, ['run.replications=2'], ['vms[0].vcpus=2,4'], { workers: 1 })),
    };
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      for (const [name, html] of Object.entries(files)) {
        const file = join(dir, `${name}.html`);
        writeFileSync(file, html);
        const page = await browser.newPage();
        const requests: string[] = [];
        const errors: string[] = [];
        page.on('request', (r) => requests.push(r.url()));
        page.on('pageerror', (e) => errors.push(e.message));
        page.on('console', (m) => {
          if (m.type() === 'error') errors.push(m.text());
        });
        await page.goto(`file://${file}`);
        const figures = await page.$$eval('figure.chart', (fs) =>
          fs.map((f) => {
            const svg = f.querySelector('svg');
            const box = svg?.getBoundingClientRect();
            return { title: f.getAttribute('data-title'), width: box?.width ?? 0, height: box?.height ?? 0, marks: svg?.querySelectorAll('path, rect, line, text').length ?? 0 };
          }),
        );
        expect(figures.length).toBeGreaterThan(0);
        for (const f of figures) {
          expect(f.width).toBeGreaterThan(50);
          expect(f.height).toBeGreaterThan(50);
          expect(f.marks).toBeGreaterThan(5);
        }
        expect(requests).toEqual([`file://${file}`]);
        expect(errors).toEqual([]);
        await page.screenshot({ path: join(dir, `${name}.png`), fullPage: true });
        await page.close();
      }
    } finally {
      await browser.close();
    }
  });

  it('the "Where the vCPUs ran" heat map of 10 VMs x 80 pCPUs renders every cell, by socket, with its tooltip, within the page', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ipilab-report-'));
    const out = runScenario(loadScenario(tenVms));
    const file = join(dir, 'ten-vms.html');
    writeFileSync(file, await runReportHtml(out, hostPreset('skylake-2s-80t')));
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await page.goto(`file://${file}`);
      const heat = await page.$eval('figure.chart[data-title="Where the vCPUs ran"]', (f) => {
        const svg = f.querySelector('svg')!;
        const cells = [...svg.querySelectorAll('path[aria-roledescription="rect mark"]')].map((c) => {
          const b = c.getBoundingClientRect();
          return { x: b.x, y: b.y, width: b.width, height: b.height, fill: c.getAttribute('fill'), tip: c.querySelector('title')?.textContent ?? '' };
        });
        const texts = [...svg.querySelectorAll('text')].map((t) => t.textContent);
        return { cells, texts, svgRight: svg.getBoundingClientRect().right, bodyRight: f.ownerDocument.body.getBoundingClientRect().right };
      });
      expect(heat.cells.length).toBe(10 * 80);
      for (const c of heat.cells) {
        expect(c.width).toBeGreaterThanOrEqual(6);
        expect(c.height).toBeGreaterThanOrEqual(10);
        expect(c.tip).toMatch(/^\S+ on pCPU \d+ \(socket [01]\): /);
      }
      // No two cells on top of each other: each VM x pCPU has its own place.
      expect(new Set(heat.cells.map((c) => `${Math.round(c.x)},${Math.round(c.y)}`)).size).toBe(10 * 80);
      // Held cells are coloured by ms; never-held ones are the grey background.
      const held = heat.cells.filter((c) => !c.tip.endsWith('never held'));
      expect(held.length).toBe(Object.values(out.vms).reduce((n, v) => n + Object.keys(v.ranOn.pcpuNs).length, 0));
      expect(held.every((c) => c.fill !== '#f2f2f2')).toBe(true);
      expect(heat.cells.filter((c) => c.tip.endsWith('never held')).every((c) => c.fill === '#f2f2f2')).toBe(true);
      expect(heat.texts).toEqual(expect.arrayContaining(['socket 0', 'socket 1', 'web-1', 'batch-3', 'ms held']));
      // Fits the page: no sideways scrolling to see socket 1.
      expect(heat.svgRight).toBeLessThanOrEqual(heat.bodyRight + 1);
      await page.screenshot({ path: join(dir, 'ten-vms.png'), fullPage: true });
    } finally {
      await browser.close();
    }
  });

  /** What a chart shows, read from the DOM: its panels (title, y title, x labels, marks) and legends. */
  interface Panel { title: string; yTitle: string; xLabels: string[]; bars: number; errorbars: number; points: number; fills: string[] }
  interface Seen { panels: Panel[]; legendLabels: string[]; texts: string[]; fills: string[] }
  async function open(browser: Browser, name: string, html: string): Promise<{ charts: Record<string, Seen>; console: string[] }> {
    const file = join(mkdtempSync(join(tmpdir(), 'ipilab-report-')), `${name}.html`);
    writeFileSync(file, html);
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    const messages: string[] = [];
    page.on('pageerror', (e) => messages.push(e.message));
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') messages.push(`${m.type()}: ${m.text()}`);
    });
    await page.goto(`file://${file}`);
    const charts = await page.$$eval('figure.chart', (fs) =>
      Object.fromEntries(
        fs.map((f) => {
          const texts = (root: { querySelectorAll: (sel: string) => ArrayLike<{ textContent: string | null }> }, sel: string): string[] => Array.from(root.querySelectorAll(sel), (t) => t.textContent ?? '');
          const scopes = [...f.querySelectorAll('g.role-scope')].filter((g) => /concat_\d+_group/.test(g.getAttribute('class') ?? ''));
          const panels = scopes.map((g) => ({
            title: texts(g, '.role-title-text text')[0] ?? '',
            yTitle: [...g.querySelectorAll('g.role-axis')].filter((a) => (a.getAttribute('aria-label') ?? '').startsWith('Y-axis')).flatMap((a) => texts(a, '.role-axis-title text'))[0] ?? '',
            xLabels: [...g.querySelectorAll('g.role-axis')].filter((a) => (a.getAttribute('aria-label') ?? '').startsWith('X-axis')).flatMap((a) => texts(a, '.role-axis-label text')),
            bars: g.querySelectorAll('[aria-roledescription="bar"]').length,
            errorbars: g.querySelectorAll('[aria-roledescription="errorbar"]').length,
            points: g.querySelectorAll('[aria-roledescription="point"], [aria-roledescription="line mark"]').length,
            fills: [...g.querySelectorAll('[aria-roledescription="bar"]')].map((b) => (b.getAttribute('fill') ?? '').toUpperCase()),
          }));
          const fills = [...f.querySelectorAll('[aria-roledescription="bar"], [aria-roledescription="line mark"] path')].map((b) => (b.getAttribute('fill') ?? '').toUpperCase());
          return [f.getAttribute('data-title')!, { panels, legendLabels: texts(f, '.role-legend-label text'), texts: texts(f, 'text'), fills }];
        }),
      ),
    );
    await page.screenshot({ path: file.replace(/\.html$/, '.png'), fullPage: true });
    await page.close();
    return { charts, console: messages };
  }
  const numbers = (labels: string[]): number[] => labels.map((l) => Number(l.replace(/,/g, '')));
  const increasing = (xs: number[]): boolean => xs.every((x, i) => i === 0 || x > xs[i - 1]!);

  it('compare: a panel per VM in its own unit, a bar and an error bar per variant in each, no stacking, full legends, clean console', async () => {
    const out = compareScenario(mixedUnits, ['run.replications=2'], 'hypervisor.backend=trap,pv');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const { charts, console } = await open(browser, 'compare', await compareReportHtml(out));
      expect(console).toEqual([]);
      for (const title of ['Figure of merit per VM', 'Figure of merit relative to hypervisor.backend = trap']) {
        const c = charts[title]!;
        expect(c.panels.map((p) => p.title)).toEqual(['churn', 'victim', 'pipe']);
        for (const p of c.panels) {
          // One bar per variant side by side (stacked VMs would give one bar per variant in one panel).
          expect(p.bars).toBe(2);
          expect(p.errorbars).toBe(2);
          expect(p.xLabels).toEqual(['trap', 'pv']);
        }
        expect(c.texts.join(' ')).not.toContain('…');
      }
      // Each VM's unit in its axis title: /s and ns never share an axis.
      expect(charts['Figure of merit per VM']!.panels.map((p) => p.yTitle)).toEqual(['recordsPerSecond (/s)', 'progressPerSecond (/s)', 'latencyP50Ns (ns)']);
      for (const f of charts['Figure of merit per VM']!.fills) expect(OKABE_ITO).toContain(f);
    } finally {
      await browser.close();
    }
  });

  it('compare judged by picked figures: a panel per VM and figure, each in its unit; a figure no run produced is named, not drawn; clean console', async () => {
    const out = compareScenario(mixedUnits, ['run.replications=2', 'run.metrics=[default, "pipe=p99:irq", "victim=p99:shootdown"]'], 'hypervisor.backend=trap,pv');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const { charts, console } = await open(browser, 'compare-metrics', await compareReportHtml(out));
      expect(console).toEqual([]);
      const c = charts['Figure of merit per VM']!;
      // The victim's shootdown latency has no sample (a compute loop never flushes): not a panel.
      expect(c.panels.map((p) => p.title)).toEqual(['churn', 'victim — progressPerSecond (/s)', 'pipe — latencyP50Ns (ns)', 'pipe — p99:irq (ns)']);
      expect(c.panels.map((p) => p.yTitle)).toEqual(['recordsPerSecond (/s)', 'progressPerSecond (/s)', 'latencyP50Ns (ns)', 'p99:irq (ns)']);
      for (const p of c.panels) expect([p.bars, p.errorbars]).toEqual([2, 2]);
      const html = await compareReportHtml(out);
      expect(html).toContain('Not charted, as no run produced the figure (incomplete; see the warnings and the table): victim — p99:shootdown (ns).');
    } finally {
      await browser.close();
    }
  });

  it('sweep over 1..32 vCPUs: numeric axes in numeric order, a panel per VM with error bars, the whole legend, clean console', async () => {
    const out = await sweepScenario(noisyNeighbour, ['run.replications=2', 'run.duration=1ms'], ['vms[0].vcpus=1,2,4,8,16,32', 'hypervisor.backend=trap,pv'], { workers: 1 });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const { charts, console } = await open(browser, 'sweep', await sweepReportHtml(out));
      expect(console).toEqual([]);
      const c = charts['Figure of merit over vms[0].vcpus']!;
      expect(c.panels.map((p) => p.title)).toEqual(['noisy', 'victim']);
      for (const p of c.panels) {
        expect(numbers(p.xLabels)).toEqual([1, 2, 4, 8, 16, 32]);
        expect(p.errorbars).toBe(12); // 6 points x 2 backends
        expect(p.points).toBeGreaterThan(0);
      }
      expect(c.panels.map((p) => p.yTitle)).toEqual(['recordsPerSecond (/s)', 'progressPerSecond (/s)']);
      expect(c.legendLabels.sort()).toEqual(['pv', 'trap']);
      const amdahl = charts["Amdahl's law beside measurement"]!;
      expect(amdahl.legendLabels).toEqual(expect.arrayContaining(['Amdahl prediction', 'measured']));
      for (const ch of [c, amdahl]) expect(ch.texts.join(' ')).not.toContain('…');
      // Every numeric x axis (Amdahl's too) reads left to right in numeric order.
      const xAxes = Object.values(charts).flatMap((ch) => ch.panels.map((p) => p.xLabels));
      for (const labels of xAxes) expect(increasing(numbers(labels))).toBe(true);
    } finally {
      await browser.close();
    }
  });

  it('run: the ledger legend names every category whole, in the colour-blind-safe palette, clean console', async () => {
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ARGS });
    try {
      const { charts, console } = await open(browser, 'run', await runReportHtml(runScenario(loadScenario(mixedUnits)), hostPreset('small-1s-8t')));
      expect(console).toEqual([]);
      const ledger = charts["Where each VM's vCPU time went"]!;
      expect(ledger.legendLabels).toEqual(['guest', 'handlingInterrupts', 'shootdownWait', 'exits', 'serviceQueued', 'hostOther', 'preempted', 'halted', 'offline']);
      for (const f of ledger.fills) expect(OKABE_ITO).toContain(f);
      for (const ch of Object.values(charts)) expect(ch.texts.join(' ')).not.toContain('…');
    } finally {
      await browser.close();
    }
  });
});
