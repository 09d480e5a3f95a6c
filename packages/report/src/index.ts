export { runReportHtml, compareReportHtml, sweepReportHtml } from './reports';
export { renderSvg } from './render';
