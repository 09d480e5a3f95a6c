import { InvalidParameterError, describe } from '@ipilab/core';
import { policyRefName, policyRefOptions, type OptionsSchema, type PolicyRef, type PolicyRegistry } from '@ipilab/di';
import { didYouMean, expectedOneOf, pathString, show, suggest as suggestOption, valueAt, type Problem } from './errors';

type Sink = (p: Problem) => void;

/**
 * The policy a scenario key picks (`hypervisor.backend: trap`, or `{ name: trap, options: {...} }`)
 * from its family's registry, after plugins have registered their names: an unknown name is
 * reported with the known ones (and a near miss), options are checked against the policy's
 * schema (policy-options.ts in @ipilab/di) and handed to its `configure`. Undefined when the
 * key has a problem (reported). Called while the model is assembled, never per event.
 */
export function selectPolicy<T>(registry: PolicyRegistry<T>, ref: PolicyRef, key: string, what: string, report: Sink): T | undefined {
  const name = policyRefName(ref);
  if (!registry.has(name)) {
    report({ key: typeof ref === 'string' ? key : `${key}.name`, message: expectedOneOf(name, registry.names(), what) });
    return undefined;
  }
  const given = policyRefOptions(ref);
  if (given === undefined) return registry.get(name);
  const takes = registry.optionsOf(name);
  if (takes === undefined) {
    report({ key: `${key}.options`, message: `${JSON.stringify(name)} takes no options (remove options, or give the name alone)` });
    return undefined;
  }
  const parsed = parseOptions(takes.schema, given, `${key}.options`, name, report);
  if (!parsed.ok) return undefined;
  try {
    return takes.configure(parsed.data);
  } catch (e) {
    if (!(e instanceof InvalidParameterError)) throw e;
    report({ key: e.field === '' ? `${key}.options` : `${key}.options.${e.field}`, message: `expected ${e.expected}, got ${describe(e.value)}` });
    return undefined;
  }
}

/** The keys an options schema names (zod's `shape`), or undefined when it does not say. */
export function optionKeys(schema: OptionsSchema): string[] | undefined {
  const shape = schema.shape;
  return shape !== null && typeof shape === 'object' ? Object.keys(shape) : undefined;
}

/**
 * Options checked against a policy's schema, every problem reported under `base`
 * (`hypervisor.backend.options`): unknown keys (refused even by a schema that is not strict,
 * when it exposes its keys) with a near miss or the list of its options, then the schema's own
 * issues, in the scenario's words (`expected a number, got "x"`).
 */
export function parseOptions(schema: OptionsSchema, given: Readonly<Record<string, unknown>>, base: string, name: string, report: Sink): { ok: true; data: unknown } | { ok: false } {
  const known = optionKeys(schema);
  let ok = true;
  // A required option beside its near miss is the typo, not a second problem.
  const meant = new Set<string>();
  if (known !== undefined) for (const k of Object.keys(given)) if (!known.includes(k)) {
        const m = suggestOption(k, known);
        if (m !== undefined) meant.add(m);
      }
  const unknownKey = (k: string, at: string): void => {
    ok = false;
    const hint = known !== undefined && at === base ? didYouMean(k, known) || (known.length > 0 ? `; its options: ${known.join(', ')}` : '; it takes none') : '';
    report({ key: `${at}.${k}`, message: `unknown option of ${name}${hint}`, atKey: true });
  };
  if (known !== undefined) for (const k of Object.keys(given)) if (!known.includes(k)) unknownKey(k, base);
  const r = schema.safeParse(given);
  if (r.success) return ok ? { ok: true, data: r.data } : { ok: false };
  for (const issue of r.error.issues) {
    const at = issue.path.length === 0 ? base : `${base}${typeof issue.path[0] === 'number' ? '' : '.'}${pathString(issue.path)}`;
    if (issue.code === 'unrecognized_keys' && issue.keys !== undefined) {
      for (const k of issue.keys) if (!(at === base && known !== undefined)) unknownKey(k, at);
      continue;
    }
    const got = valueAt(given, issue.path);
    if (got === undefined && issue.path.length === 1 && meant.has(String(issue.path[0]))) continue;
    report({ key: at, message: issueMessage(issue.message, got) });
  }
  return { ok: false };
}

/** A schema's message in the scenario's words: zod's `Invalid input: expected number, received string` as `expected a number, got "x"`. */
function issueMessage(message: string, got: unknown): string {
  const typed = /^(?:invalid input: )?expected (\w+), received \w+$/i.exec(message);
  if (typed !== null) {
    const t = typed[1]!;
    return `expected ${/^[aeiou]/i.test(t) ? 'an' : 'a'} ${t}, got ${show(got)}`;
  }
  const m = message.replace(/^invalid input: /i, '');
  const text = /^expected /i.test(m) ? `expected ${m.slice('expected '.length)}` : m;
  return text.includes(', got ') || got === undefined ? text : `${text}, got ${show(got)}`;
}
