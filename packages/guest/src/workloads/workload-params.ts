import { InvalidParameterError } from '@ipilab/core';
import { z } from 'zod';

/**
 * The largest number a workload parameter may be: 10^12 ns is 1,000 s of simulated time per
 * operation, far past any figure a model of IPIs needs, and far enough below the clock's 2^53 ns
 * that sums of such figures stay exact. A larger one would only fail in the middle of the run.
 */
export const MAX_PARAMETER = 1e12;

/**
 * The most tasks (threads, processes) a workload may start: Linux's default pid_max
 * (PID_MAX_DEFAULT, include/linux/threads.h), so no more than a default guest could fork. Each
 * is a task the model schedules; a count typed by mistake (1e9) is refused, not attempted.
 */
export const MAX_TASKS = 32_768;

/** A workload's parameters: a strict zod object (an unknown key is refused), every key optional. */
export type ParamsSchema = z.ZodObject<Record<string, z.ZodOptional<z.ZodType>>, z.core.$strict>;

const fmt = (x: number): string => (x >= 1e6 && Number.isInteger(Math.log10(x)) ? `1e${Math.log10(x)}` : String(x));

/**
 * A numeric parameter: a finite number (an integer when `integer`) in [min, max], max at most
 * MAX_PARAMETER. The message says what is expected (the upper bound when the parameter has one
 * of its own), and, for a value over the bound, why there is one (`why`).
 */
export function num(rule: { min?: number; max?: number; integer?: boolean; why?: string; description: string }): z.ZodOptional<z.ZodNumber> {
  const min = rule.min ?? 0;
  const max = Math.min(rule.max ?? MAX_PARAMETER, MAX_PARAMETER);
  const what = `${rule.integer === true ? 'an integer' : 'a number'} >= ${min}`;
  const error = `expected ${what}${rule.max === undefined ? '' : ` and <= ${fmt(max)}`}`;
  const why = rule.why ?? (max === MAX_PARAMETER ? 'larger ones overflow the simulated clock' : undefined);
  const tooBig = `expected ${what} and <= ${fmt(max)}${why === undefined ? '' : ` (${why})`}`;
  let s = z.number({ error }).min(min, { error }).max(max, { error: tooBig });
  if (rule.integer === true) s = s.int({ error: (i) => (typeof i.input === 'number' && Math.abs(i.input) > max ? tooBig : error) });
  return s.optional().meta({ description: rule.description });
}

/** A count of tasks: an integer in [min, MAX_TASKS]. */
export function taskCount(description: string, min = 1): z.ZodOptional<z.ZodNumber> {
  return num({ min, max: MAX_TASKS, integer: true, why: `Linux's default pid_max: no more tasks than a default guest can fork`, description });
}

/** A true/false parameter; "yes", 1 or "true" are refused, not read as false. */
export function flag(description: string): z.ZodOptional<z.ZodBoolean> {
  return z.boolean({ error: 'expected true or false' }).optional().meta({ description });
}

/** One of a few names. */
export function oneOf<const T extends readonly [string, ...string[]]>(values: T, description: string): z.ZodOptional<z.ZodEnum<{ [K in T[number]]: K }>> {
  return z.enum(values).optional().meta({ description });
}

const INDEX_ERROR = 'expected a vCPU index (an integer >= 0)';
const index = (): z.ZodNumber => z.number({ error: INDEX_ERROR }).int({ error: INDEX_ERROR }).min(0, { error: INDEX_ERROR });

/** A vCPU index (whether the VM has it is checked when the workload is built). */
export function vcpuIndex(description: string): z.ZodOptional<z.ZodNumber> {
  return index().optional().meta({ description });
}

/** A non-empty list of vCPU indexes (whether the VM has them is checked when the workload is built). */
export function vcpuIndexes(description: string): z.ZodOptional<z.ZodArray<z.ZodNumber>> {
  const error = 'expected a non-empty list of vCPU indexes';
  return z.array(index(), { error }).min(1, { error }).optional().meta({ description });
}

/**
 * A workload's parameters as its schema reads them, or an InvalidParameterError naming
 * `workload.<key>` (the first problem) for a caller that did not check them first (the scenario
 * checker reports every problem itself, from the same schema).
 */
export function parseParams<S extends ParamsSchema>(kind: string, schema: S, params: Record<string, unknown>): z.output<S> {
  const r = schema.safeParse(params);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    throw new InvalidParameterError(`workload.${key}`, params[key], `a parameter of ${kind}: one of ${Object.keys(schema.shape).join(', ')}`);
  }
  let value: unknown = params;
  let field = 'workload';
  for (const p of issue.path) {
    value = (value as Record<PropertyKey, unknown> | undefined)?.[p as string];
    field += typeof p === 'number' ? `[${p}]` : `.${String(p)}`;
  }
  throw new InvalidParameterError(field, value, issue.message.replace(/^expected /, ''));
}
