/**
 * Okabe & Ito's colour-blind-safe palette (Okabe, M. and Ito, K., "Color Universal Design",
 * 2008; the set Wong recommends in Nature Methods 8:441, 2011), black moved last and a grey
 * added for a ninth category. vega's own 'tableau10' and 'category10' are not colour-blind safe.
 */
export const OKABE_ITO = ['#E69F00', '#56B4E9', '#009E73', '#F0E442', '#0072B2', '#D55E00', '#CC79A7', '#000000', '#999999'] as const;

/** Legends show each label whole (vega-lite cuts them at 160 px with an ellipsis by default). */
export const FULL_LEGEND = { labelLimit: 0, titleLimit: 0 } as const;

/** The unit of a figure of merit, from its name: `...PerSecond` is per second, `...Ns` nanoseconds, `seconds` seconds. */
export function unitOf(figure: string): string {
  if (/PerSecond$/.test(figure)) return '/s';
  if (/Ns$/.test(figure)) return 'ns';
  if (figure === 'seconds') return 's';
  return '';
}

/** An axis title with its unit, e.g. `recordsPerSecond (/s)`. */
export const withUnit = (figure: string): string => (unitOf(figure) === '' ? figure : `${figure} (${unitOf(figure)})`);

/** Log scale when the positive values span more than two decades, linear otherwise. */
export function scaleFor(values: readonly number[]): { type: 'log' } | { type: 'linear'; zero: false } {
  const pos = values.filter((v) => v > 0 && Number.isFinite(v));
  if (pos.length === values.length && pos.length > 0 && Math.max(...pos) / Math.min(...pos) > 100) return { type: 'log' };
  return { type: 'linear', zero: false };
}
