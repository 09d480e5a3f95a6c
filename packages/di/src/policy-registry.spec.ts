import { DuplicatePolicyError, PolicyRegistry, UnknownPolicyError } from './index';

describe('PolicyRegistry', () => {
  it('returns what was registered, and the default when no name is given', () => {
    const r = new PolicyRegistry<number>('IPI backend', 'trap');
    r.register('trap', 1);
    r.register('pv', 2);
    expect(r.get('pv')).toBe(2);
    expect(r.get()).toBe(1);
    expect(r.names()).toEqual(['pv', 'trap']);
  });

  it('register returns a handle that un-registers, once', () => {
    const r = new PolicyRegistry<string>('scheduler');
    const h = r.register('cfs', 'x');
    h.dispose();
    expect(r.has('cfs')).toBe(false);
    r.register('cfs', 'y');
    h.dispose(); // a stale handle must not remove the newer registration
    expect(r.get('cfs')).toBe('y');
  });

  it('an unknown name throws an error listing the known names', () => {
    const r = new PolicyRegistry<number>('IPI backend');
    r.register('trap', 1);
    r.register('pv', 2);
    let e: unknown;
    try {
      r.get('posted');
    } catch (x) {
      e = x;
    }
    expect(e).toBeInstanceOf(UnknownPolicyError);
    expect((e as UnknownPolicyError).message).toBe('unknown IPI backend "posted"; known: "pv", "trap"');
    expect((e as UnknownPolicyError).known).toEqual(['pv', 'trap']);
  });

  it('no name and no default is an error too', () => {
    expect(() => new PolicyRegistry<number>('strategy').get()).toThrow('unknown strategy "(no name given and no default set)"; known: (none registered)');
  });

  it('refuses a duplicate name, an empty name and a default that is not registered', () => {
    const r = new PolicyRegistry<number>('IPI backend');
    r.register('pv', 1);
    expect(() => r.register('pv', 2)).toThrow(new DuplicatePolicyError('IPI backend', 'pv'));
    expect(() => r.register('', 2)).toThrow('IPI backend name: expected a non-empty string, got ""');
    expect(() => r.setDefault('trap')).toThrow(UnknownPolicyError);
  });
});

describe('PolicyRegistry options', () => {
  it('keeps the options a name takes until its registration is undone', () => {
    const r = new PolicyRegistry<string>('thing');
    const options = { schema: { safeParse: (x: unknown) => ({ success: true as const, data: x }) }, configure: () => 'configured' };
    const d = r.register('a', 'plain', options);
    r.register('b', 'plain b');
    expect(r.optionsOf('a')).toBe(options);
    expect(r.optionsOf('b')).toBeUndefined();
    d.dispose();
    expect(r.optionsOf('a')).toBeUndefined();
    expect(r.has('a')).toBe(false);
  });
});
