export { runReportHtml, compareReportHtml, sweepReportHtml } from './reports';
export { renderSvg, type RenderOptions } from './render';
export { type HostLayout } from './ran-on';
