import type { TopLevelSpec } from 'vega-lite';

// vega and vega-lite are loaded on first use (they are large), through their CommonJS builds.
let engines: { vega: typeof import('vega'); vl: typeof import('vega-lite') } | undefined;
function load(): { vega: typeof import('vega'); vl: typeof import('vega-lite') } {
  engines ??= { vega: require('vega') as typeof import('vega'), vl: require('vega-lite') as typeof import('vega-lite') };
  return engines;
}

/** Compiles a vega-lite spec and renders it to an SVG string, headless, with no browser. */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const { vega, vl } = load();
  const compiled = vl.compile({ ...spec, config: { font: 'Helvetica, Arial, sans-serif', ...(spec.config ?? {}) } } as TopLevelSpec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
