import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { closeSweepWorkers, loadScenario, runWithSlowdown, sweepScenario } from '@ipilab/scenario';
import { runReportHtml, sweepReportHtml } from './index';

const CHROMIUM = process.env['IPILAB_CHROMIUM'] ?? '/usr/bin/chromium';
const small = join(__dirname, '..', '..', 'scenario', 'test', 'fixtures', 'small.yaml');
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
      run: await runReportHtml(runWithSlowdown(loadScenario(small, ['run.slowdownVsAlone=true']))),
      sweep: await sweepReportHtml(await sweepScenario(small, ['run.replications=2'], ['vms[0].vcpus=2,4'], { workers: 1 })),
    };
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
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
});
