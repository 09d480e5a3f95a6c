import { dirname, resolve } from 'node:path';
import { ScenarioError } from './errors';
import { applyOverride, checkSource, readScenario, toOverride, type LoadedScenario, type ScenarioSource, type SetArg } from './load';

/**
 * A scenario file's path, or a scenario read already: the one recorded in an output's provenance
 * (`meta.scenario`), which `ipilab rerun` runs again. A recorded one's `file` is the name the
 * original run was given (outputs are named after it), its `dir` the directory plugin paths are
 * relative to, and its `shown` what its problem lines start with (it has no lines and columns).
 */
export type ScenarioRef = string | ScenarioSource;

/** The file name a scenario goes by (in outputs and messages). */
export function scenarioFileOf(ref: ScenarioRef): string {
  return typeof ref === 'string' ? ref : ref.file;
}

/**
 * The scenario a reference names: a file is read (syntax errors are a ScenarioError; at most
 * `maxBytes`, readInputText), a scenario read already or recorded is itself. A command reads its
 * file once and passes the source on.
 */
export function sourceOf(ref: ScenarioRef, maxBytes?: number): ScenarioSource {
  return typeof ref === 'string' ? readScenario(ref, maxBytes) : ref;
}

/** `loadScenario` for either kind of reference: `--set` assignments applied, then every check a run makes. */
export function loadScenarioRef(ref: ScenarioRef, sets: readonly SetArg[] = []): LoadedScenario {
  const overrides = sets.map(toOverride);
  const r = checkSource(sourceOf(ref), overrides);
  if (r.loaded === undefined) throw ScenarioError.of(r.lines);
  return r.loaded;
}

/**
 * The scenario a compare or sweep starts from, for its provenance: the file with `--set` applied
 * and, when that alone passes every check, with every default filled in (`resolved`). A file
 * valid only once `--vary`/`--grid` sets a key is kept as written: re-applying the axis to it
 * gives each variant again all the same.
 */
export function baseScenario(ref: ScenarioRef, sets: readonly SetArg[]): { scenario: Record<string, unknown>; resolved: boolean; file: string; dir: string } {
  const src = sourceOf(ref);
  const dir = src.dir ?? dirname(resolve(src.file));
  try {
    const loaded = loadScenarioRef(src, sets);
    return { scenario: loaded.scenario as unknown as Record<string, unknown>, resolved: true, file: src.file, dir };
  } catch (e) {
    if (!(e instanceof ScenarioError)) throw e;
    const raw = structuredClone(src.raw) as Record<string, unknown>;
    for (const s of sets) {
      const o = toOverride(s);
      const p = applyOverride(raw, o);
      if (p !== undefined) throw new ScenarioError(`${o.origin}: ${p.key}: ${p.message}`, p.key);
    }
    return { scenario: raw, resolved: false, file: src.file, dir };
  }
}
