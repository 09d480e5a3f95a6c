import { PolicyRegistry, type OptionsSchema } from '@ipilab/di';
import type { Problem } from './errors';
import { selectPolicy } from './select-policy';

/** A schema that is not zod at all: only `safeParse` and `shape`, as a plugin with another validator might bring (zod 3's messages). */
const handRolled: OptionsSchema<{ banks: number }> = {
  shape: { banks: {} },
  safeParse(input: unknown) {
    const banks = (input as { banks?: unknown }).banks;
    return typeof banks === 'number' ? { success: true, data: { banks } } : { success: false, error: { issues: [{ code: 'invalid_type', path: ['banks'], message: typeof banks === 'undefined' ? 'Required' : `Expected number, received ${typeof banks}` }] } };
  },
};

function pick(options: Record<string, unknown> | undefined): { got: string | undefined; problems: Problem[] } {
  const r = new PolicyRegistry<string>('IPI backend');
  r.register('plain', 'plain policy');
  r.register('banked', 'banked x1', { schema: handRolled, configure: (o) => `banked x${o.banks}` });
  const problems: Problem[] = [];
  const got = selectPolicy(r, options === undefined ? 'banked' : { name: 'banked', options }, 'hypervisor.backend', 'an IPI backend', (p) => void problems.push(p));
  return { got, problems };
}

describe('selectPolicy with any schema that has safeParse', () => {
  it('gives the parsed options to configure, and the plain policy for a plain name', () => {
    expect(pick({ banks: 3 })).toEqual({ got: 'banked x3', problems: [] });
    expect(pick(undefined)).toEqual({ got: 'banked x1', problems: [] });
  });

  it('says a wrong type in the scenario\'s words, at the option\'s key', () => {
    expect(pick({ banks: 'two' }).problems).toEqual([{ key: 'hypervisor.backend.options.banks', message: 'expected a number, got "two"' }]);
  });

  it('refuses a key the schema does not name, though the schema itself lets it through', () => {
    expect(pick({ banks: 1, bank: 2 }).problems).toEqual([{ key: 'hypervisor.backend.options.bank', message: 'unknown option of banked; did you mean "banks"?', atKey: true }]);
  });

  it('refuses options for a policy that takes none', () => {
    const r = new PolicyRegistry<string>('IPI backend');
    r.register('plain', 'plain policy');
    const problems: Problem[] = [];
    expect(selectPolicy(r, { name: 'plain', options: { x: 1 } }, 'hypervisor.backend', 'an IPI backend', (p) => void problems.push(p))).toBeUndefined();
    expect(problems).toEqual([{ key: 'hypervisor.backend.options', message: '"plain" takes no options (remove options, or give the name alone)' }]);
  });
});
