import { z } from 'zod';
import { scenarioSchema } from './schema';

/** The scenario's JSON Schema, for editors (written to packages/scenario/scenario.schema.json). */
export function scenarioJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(scenarioSchema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
}
