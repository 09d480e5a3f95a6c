import type { Provenance } from '@ipilab/scenario';
import { esc, table } from './html';

/**
 * The report's provenance (what made it: docs/cli.md, "Provenance"), at the end of the page: a
 * table to read, and the whole block as JSON under `#ipilab-meta` for scripts. None when the
 * output carries none (a report made from the library without the CLI).
 */
export function provenanceSection(meta: Provenance | undefined): string[] {
  if (meta === undefined) return [];
  const v = meta.ipilab;
  const o = meta.overrides;
  const overrides = [
    ...o.set.map((s) => `--set ${s}`),
    ...(o.vary === undefined ? [] : [`--vary ${o.vary}`]),
    ...(o.grid ?? []).map((g) => `--grid ${g}`),
    ...(o.workers === undefined ? [] : [`--workers ${o.workers}`]),
    ...(o.from === undefined ? [] : [`--from ${o.from}`]),
    ...(o.to === undefined ? [] : [`--to ${o.to}`]),
  ];
  const rows: [string, string][] = [
    ['ipilab', `${v.version}${v.commit === undefined ? ' (commit unknown)' : ` (commit ${v.commit}${v.modified === true ? ', with uncommitted changes' : ''})`}`],
    ['Node, OS', `${meta.node}, ${meta.os} ${meta.arch}`],
    ['command', `ipilab ${meta.command} ${meta.scenarioFile}`],
    ['scenario sha256', `${meta.scenarioSha256}${meta.resolved ? '' : ' (as written: valid only with the varied key)'}`],
    ['overrides', overrides.length === 0 ? 'none' : overrides.join(' ')],
    ['seeds', meta.seeds.join(', ')],
    ['replications', String(meta.replications)],
    ['started', meta.startedAt],
    ['wall time', `${meta.wallSeconds.toFixed(3)} s`],
  ];
  return [
    `<section class="provenance" data-title="Provenance"><h2>Provenance</h2>${table(['', ''], rows)}<details><summary>The scenario as run and everything above, as JSON (the JSON output's <code>meta</code>; <code>ipilab rerun</code> reads it from there)</summary><pre id="ipilab-meta">${esc(JSON.stringify(meta, null, 2))}</pre></details></section>`,
  ];
}
