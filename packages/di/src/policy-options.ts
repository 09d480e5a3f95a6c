/**
 * Options a policy takes: the `{ name, options }` form a scenario may give wherever it names a
 * policy. The contract a plugin reads:
 *
 * - `schema` validates the options. Anything with zod's `safeParse` works (duck-typed, so a
 *   plugin may bring its own zod, 3 or 4): it returns `{ success: true, data }` or
 *   `{ success: false, error: { issues } }`, each issue with a `path`, a `message`, and for an
 *   unknown key zod's `code: 'unrecognized_keys'` and `keys`. Make the object strict
 *   (`z.object({...}).strict()`) so a misspelt option is refused rather than ignored; ipilab
 *   refuses unknown keys itself when the schema exposes `shape`, with a did-you-mean.
 * - `configure` gets the parsed options (`data`: defaults filled in, transforms applied) and
 *   returns the policy, as the family's contract wants it. It runs while the model is
 *   assembled, once per place that names the policy with options; never per event.
 *
 * A policy named by a plain string gets the contribution's `policy` (no options parsed). A
 * policy without `options` refuses any options ("takes no options").
 */
export interface PolicyOptions<T, O = unknown> {
  /** Validates the options (zod-compatible). */
  readonly schema: OptionsSchema<O>;
  /** The policy for the parsed options. */
  readonly configure: (options: O) => T;
}

/** What ipilab needs of an options schema: zod's `safeParse`, and `shape` when it has one (for the list of known keys). */
export interface OptionsSchema<O = unknown> {
  /** Parses without throwing, as zod's does. */
  safeParse(input: unknown): OptionsParse<O>;
  readonly shape?: unknown;
}

/** What `safeParse` returns: the parsed options, or the issues found. */
export type OptionsParse<O> = { readonly success: true; readonly data: O } | { readonly success: false; readonly error: { readonly issues: readonly OptionsIssue[] } };

/** One problem `safeParse` found, as zod reports it. */
export interface OptionsIssue {
  /** zod's issue code (`invalid_type`, `unrecognized_keys`, ...), if any. */
  readonly code?: string;
  /** Where in the options (keys, list indexes). */
  readonly path: readonly PropertyKey[];
  /** What is wrong (zod's words; ipilab rephrases its type messages). */
  readonly message: string;
  /** zod's unknown keys (`code: 'unrecognized_keys'`). */
  readonly keys?: readonly string[];
}

/** A policy as a scenario names it: a plain name, or a name with options for the policy's schema. */
export type PolicyRef = string | { readonly name: string; readonly options?: Readonly<Record<string, unknown>> | undefined };

/** The name a reference picks. */
export function policyRefName(ref: PolicyRef): string {
  return typeof ref === 'string' ? ref : ref.name;
}

/** The options a reference gives, or undefined for a plain name (or `{ name }` alone). */
export function policyRefOptions(ref: PolicyRef): Readonly<Record<string, unknown>> | undefined {
  return typeof ref === 'string' ? undefined : ref.options;
}
