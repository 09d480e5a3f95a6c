export { scenarioSchema, type Scenario, type ScenarioInput, type VmScenario } from './schema';
export { ScenarioError, describeIssues, pathString } from './errors';
export { parseDuration } from './duration';
export { loadScenario, readScenarioFile, validateScenario, applySet, parsePath, type LoadedScenario } from './load';
export { runScenario, figureAt, type RunOutput, type VmOutput, type InterferenceOutput, type RunOptions } from './run-scenario';
export { runWithSlowdown, compareScenario, parseVary, type CompareOutput, type VariantFigure } from './compare';
export { estimate, type Estimate } from './statistics';
export { scenarioJsonSchema } from './json-schema';
export { runOutputSchema, runOutputJsonSchema, toJsonValue } from './output-schema';
