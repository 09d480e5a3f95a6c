import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { hostPreset } from '@ipilab/host';
import { closeSweepWorkers, loadScenario, runScenario, runWithSlowdown, sweepScenario } from '@ipilab/scenario';
import { runReportHtml, sweepReportHtml } from './index';

const CHROMIUM = process.env['IPILAB_CHROMIUM'] ?? '/usr/bin/chromium';
const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');
const tenVms = join(__dirname, '..', 'test', 'fixtures', 'ten-vms.yaml');
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
});
