export { AccountingService } from './accounting-service';
export { accountingModule } from './accounting-module';
export { ofType } from './operators/of-type';
export { vcpuLedgers, ledgerSum, exitNs, busyNs, vcpuKey, type VcpuLedger, type VcpuLedgers, type LedgerCategories } from './operators/vcpu-ledgers';
export { vmLedgers, sumLedgers, type VmLedger } from './operators/vm-ledgers';
export { interferenceMatrix, type InterferenceMatrix } from './operators/interference-matrix';
export { latencyDistributions, summarize, type LatencyDistributions, type LatencySummary } from './operators/latency-distributions';
export { windowedSeries, type SeriesRow } from './operators/windowed-series';
export { serialFraction, amdahlSpeedup, amdahlCurve, compareWithAmdahl, slowdownVsAlone } from './amdahl';
