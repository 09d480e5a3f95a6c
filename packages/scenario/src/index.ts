/**
 * Scenario files: schema (zod), loading and validation with errors that name the path, the composition root that builds a run, replications and comparisons with confidence intervals.
 *
 * @packageDocumentation
 * @module @ipilab/scenario
 */
export { scenarioSchema, type Scenario, type ScenarioInput, type VmScenario } from './schema';
export { ScenarioError, PluginError, describeIssues, pathString, printable, suggest, type Problem } from './errors';
export { parseDuration } from './duration';
export { loadScenario, readScenarioFile, readScenario, checkSource, validateScenario, applySet, parseOverride, parsePath, toOverride, type LoadedScenario, type Override, type ScenarioSource, type SetArg } from './load';
export { checkScenario, ruleProblems, modelProblems } from './check-scenario';
export { parseAxis, readGridFile, expandRange, splitTopLevel, checkAxisPath, MAX_AXIS_VALUES, type Axis, type AxisValue } from './axes';
export { checkPoints } from './check-points';
export { readInputText, parseByteSize, sizeText, InputTooLarge, DEFAULT_MAX_INPUT_BYTES, DEFAULT_MAX_RESULT_BYTES } from './input-file';
export { heapBudgetMb, nodeHeapLimitMb, resourceProblems, setUpHeapBytes } from './resource-guard';
export { replicationSeeds } from './replication-seeds';
export { runScenario, scenarioTopology, figureAt, total, type RunOutput, type VmOutput, type MetricValue, type InterferenceOutput, type RunOptions } from './run-scenario';
export { compareScenario, parseVary, type CompareOutput, type VariantFigure } from './compare';
export { runWithSlowdown, runsWithSlowdown, type RunProgress } from './slowdown';
export { provenance, provenanceSchema, canonicalJson, scenarioSha256, type Provenance, type ProvenanceInput } from './provenance';
export { loadScenarioRef, scenarioFileOf, sourceOf, baseScenario, type ScenarioRef } from './scenario-source';
export { locatePlugin, isPackageName, loadPlugin, type PluginLocation, type LoadedPlugin } from './plugin-loader';
export { summarizeRanOn, socketShareText, ranOnSummaryText, type RanOn, type RanOnSummary } from './ran-on';
export { bareMetalBaseline } from './bare-metal-baseline';
export { estimate, type Estimate } from './statistics';
export { incompleteOfRun, incompleteOfCompare, incompleteOfSweep, incompleteWarning, type IncompleteFigure } from './incomplete';
export { scenarioJsonSchema } from './json-schema';
export { runOutputSchema, runOutputJsonSchema, toJsonValue } from './output-schema';
export { streamTrace, traceScenario, type TraceEvent, type TraceOptions, type TraceSummary } from './trace';
export { TRACE_CHUNK_CHARS, TraceJsonWriter } from './trace-json';
export { sweepScenario, closeSweepWorkers, sweepThreads, runOnSweepThread, threadExecutor, sweepIdentity, sweepCsv, csvText, csvNum, parseGrid, gridPoints, longestFirst, estimatedWork, workerHeaps, type WorkerHeap, type SweepOutput, type SweepPoint, type GridAxis, type SweepOptions, type SweepExecutor, type SweepPlan, type SweepHooks } from './sweep';
export { parseMetric, resolveMetrics, figureWithUnit, metricValue, unitOfKey, LATENCY_STATS, VM_LATENCIES, SHARE_CATEGORIES, type ParsedMetric, type ResolvedMetric, type MetricFigure } from './metrics';
export { SweepJournal, JOURNAL_NAME } from './sweep-journal';
export type { SweepTask, SweepTaskResult, WorkerHeapSample } from './sweep-worker';
export { seedsText } from './replication-seeds';
export { policyListings, SCENARIO_FAMILIES, type PolicyListing, type ScenarioFamily } from './policy-families';
export { selectPolicy, parseOptions } from './select-policy';
