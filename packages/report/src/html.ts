/** HTML-escapes text. */
export const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

export interface Chart {
  readonly title: string;
  readonly svg: string;
  /** How to read it, one or two sentences. */
  readonly caption: string;
}

const STYLE = `body{font:14px/1.45 Helvetica,Arial,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}table{border-collapse:collapse;margin:.5rem 0 1rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure.chart{margin:1rem 0 2rem;overflow-x:auto}figure.chart figcaption{color:#555;font-size:.9rem;max-width:800px}.meta{color:#555}`;

/** One self-contained page: inline CSS, inline SVG charts, no scripts, nothing fetched. */
export function page(title: string, meta: string, sections: readonly string[]): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<style>${STYLE}</style></head>
<body><h1>${esc(title)}</h1><p class="meta">${esc(meta)}</p>
${sections.join('\n')}
</body></html>
`;
}

export function figure(c: Chart): string {
  return `<figure class="chart" data-title="${esc(c.title)}"><h2>${esc(c.title)}</h2>${c.svg}<figcaption>${esc(c.caption)}</figcaption></figure>`;
}

export function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export const num = (x: number | null | undefined, digits = 3): string =>
  x === null || x === undefined || Number.isNaN(x) ? 'n/a' : Math.abs(x) >= 1e6 ? x.toExponential(3) : Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(digits);
