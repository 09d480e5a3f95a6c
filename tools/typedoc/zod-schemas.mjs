// A TypeDoc plugin for ipilab's API reference: an exported zod schema (`scenarioSchema`,
// `runOutputSchema`, ...) is shown as what it is — a zod schema, whose structure is documented by
// docs/scenarios.md, docs/cli.md and the JSON Schemas `npm run docs:schemas` writes — instead of
// TypeDoc's expansion of zod's inferred type, whose members (zod's enum objects) carry no comments.
import { Converter, ReflectionKind, UnknownType } from 'typedoc';

export function load(app) {
  app.converter.on(Converter.EVENT_RESOLVE_BEGIN, (context) => {
    const project = context.project;
    for (const refl of project.getReflectionsByKind(ReflectionKind.Variable)) {
      if (!/Schema$/.test(refl.name)) continue;
      const prefix = `${refl.getFullName()}.`;
      for (const inner of Object.values(project.reflections)) {
        if (inner !== refl && inner.getFullName().startsWith(prefix)) project.removeReflection(inner);
      }
      refl.type = new UnknownType('zod schema (its structure: docs/scenarios.md, docs/cli.md and the JSON Schemas in docs/)');
    }
  });
}
