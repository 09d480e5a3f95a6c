import { WORKLOAD_PARAMS } from '@ipilab/guest';
import { z } from 'zod';
import { scenarioSchema, workloadSchema } from './schema';

/**
 * What editors are told a workload is: for each kind, its parameters (the workload's own schema:
 * types, bounds, descriptions, no other key). The scenario's schema leaves them open; the
 * checker checks them against the same schemas when it builds the run.
 */
function workloadJsonSchema(): Record<string, unknown> {
  const kinds = Object.entries(WORKLOAD_PARAMS).map(([kind, params]) => z.object({ kind: z.literal(kind) }).extend(params.shape).strict());
  const union = z.discriminatedUnion('kind', kinds as unknown as [z.ZodObject<{ kind: z.ZodLiteral<string> }>, ...z.ZodObject<{ kind: z.ZodLiteral<string> }>[]]);
  // The { name, options } form: the same parameters, in options.
  const named = Object.entries(WORKLOAD_PARAMS).map(([kind, params]) => z.object({ name: z.literal(kind), options: params.optional() }).strict());
  const either = z.union([union, z.discriminatedUnion('name', named as unknown as [z.ZodObject<{ name: z.ZodLiteral<string> }>, ...z.ZodObject<{ name: z.ZodLiteral<string> }>[]])]);
  const { $schema: _, ...json } = z.toJSONSchema(either, { io: 'input' }) as Record<string, unknown>;
  return json;
}

/** The scenario's JSON Schema, for editors (written to packages/scenario/scenario.schema.json). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, {
    io: 'input',
    unrepresentable: 'any',
    override: (ctx) => {
      if (ctx.zodSchema !== workloadSchema) return;
      const description = ctx.jsonSchema.description;
      for (const k of Object.keys(ctx.jsonSchema)) delete (ctx.jsonSchema as Record<string, unknown>)[k];
      Object.assign(ctx.jsonSchema, description === undefined ? {} : { description }, workloadJsonSchema());
    },
  }) as Record<string, unknown>;
}
