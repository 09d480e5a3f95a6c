/**
 * Accounting as RxJS streams over the model's events: per-vCPU and per-VM ledgers, the interference matrix, latency distributions, windowed series, Amdahl analysis.
 *
 * @packageDocumentation
 * @module @ipilab/accounting
 */
export { AccountingService } from './accounting-service';
export { accountingModule } from './accounting-module';
export { ofType } from './operators/of-type';
export { fromReducer, combineReducers, type EventReducer, type ResultOf } from './reducer';
export { vcpuLedgers, vcpuLedgerReducer, ledgerSum, exitNs, busyNs, vcpuKey, type VcpuLedger, type VcpuLedgers, type LedgerCategories } from './operators/vcpu-ledgers';
export { vmLedgers, vmLedgerReducer, sumLedgers, type VmLedger } from './operators/vm-ledgers';
export { interferenceMatrix, interferenceReducer, type InterferenceMatrix } from './operators/interference-matrix';
export { latencyDistributions, latencyReducer, latencyHistogram, summarize, type LatencyDistributions, type LatencySummary } from './operators/latency-distributions';
export { windowedSeries, type SeriesRow } from './operators/windowed-series';
export { serialFraction, amdahlSpeedup, amdahlCurve, compareWithAmdahl, slowdownVsAlone } from './amdahl';
