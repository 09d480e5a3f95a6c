import type { TopLevelSpec } from 'vega-lite';

// vega and vega-lite are loaded on first use (they are large), through their CommonJS builds.
let engines: { vega: typeof import('vega'); vl: typeof import('vega-lite') } | undefined;
function load(): { vega: typeof import('vega'); vl: typeof import('vega-lite') } {
  engines ??= { vega: require('vega') as typeof import('vega'), vl: require('vega-lite') as typeof import('vega-lite') };
  return engines;
}

/** How a chart is rendered to SVG. */
export interface RenderOptions {
  /**
   * Give each rect mark a `<title>` from its description (vega writes it as `aria-label`), so a
   * browser shows it as a tooltip: the page has no scripts for vega's own tooltip handler.
   */
  readonly tooltips?: boolean;
}

/** Compiles a vega-lite spec and renders it to an SVG string, headless, with no browser. */
export async function renderSvg(spec: TopLevelSpec, options: RenderOptions = {}): Promise<string> {
  const { vega, vl } = load();
  // A warning from vega-lite or vega is a chart drawn other than written (a channel dropped, a
  // scale that cannot hold the data): refuse it here rather than print it and ship the chart.
  const warnings: string[] = [];
  const logger = vega.logger(vega.Warn, undefined, (_method: string, _level: string, input: ArrayLike<unknown>) => {
    warnings.push(Array.from(input, String).join(' '));
  });
  const compiled = vl.compile({ ...spec, config: { font: 'Helvetica, Arial, sans-serif', ...(spec.config ?? {}) } } as TopLevelSpec, { logger }).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logger });
  try {
    const svg = await view.toSVG();
    if (warnings.length > 0) throw new Error(`chart "${String(spec.title ?? spec.description ?? '')}": ${warnings.join('; ')}`);
    return options.tooltips === true ? withTitles(svg) : svg;
  } finally {
    view.finalize();
  }
}

/** `<path aria-label="x" … aria-roledescription="rect mark" …/>` gets `<title>x</title>` (already escaped by vega). */
function withTitles(svg: string): string {
  return svg.replace(/<path\b([^>]*?)\/>/g, (whole, attrs: string) => {
    if (!attrs.includes('aria-roledescription="rect mark"')) return whole;
    const label = /\baria-label="([^"]*)"/.exec(attrs)?.[1];
    return label === undefined ? whole : `<path${attrs}><title>${label}</title></path>`;
  });
}
