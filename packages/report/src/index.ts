/**
 * Self-contained HTML reports of runs, comparisons and sweeps: tables and vega-lite charts rendered to SVG in Node.
 *
 * @packageDocumentation
 * @module @ipilab/report
 */
export { runReportHtml, compareReportHtml, sweepReportHtml } from './reports';
export { renderSvg, type RenderOptions } from './render';
export { type HostLayout } from './ran-on';
