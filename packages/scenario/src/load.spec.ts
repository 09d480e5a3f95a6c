import fc from 'fast-check';
import { join } from 'node:path';
import { applyOverride, checkSource, FORBIDDEN_KEYS, holdsItself, parseOverrideValue, parsePath } from './load';
import { protoKeyProblems, ScenarioError } from './errors';

const key = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_-]{0,7}$/).filter((k) => !FORBIDDEN_KEYS.includes(k));
/** A path segment as written: a key, with list indexes after it now and then. */
const segment = fc.tuple(key, fc.array(fc.nat(20), { maxLength: 2 })).map(([k, ix]) => ({ text: k + ix.map((i) => `[${i}]`).join(''), segs: [k, ...ix] as (string | number)[] }));

function thrown(act: () => unknown): ScenarioError {
  try {
    act();
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioError);
    return e as ScenarioError;
  }
  throw new Error('expected a ScenarioError');
}

describe('override paths (--set, --vary, --grid, --grid-file)', () => {
  it('a well-formed path reads back as its segments; with an empty key or a prototype\'s name in it, it is refused in one line naming the argument (fast-check, fixed seed)', () => {
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.nat(), fc.constantFrom('', ...FORBIDDEN_KEYS), (parts, at, bad) => {
        const path = parts.map((p) => p.text).join('.');
        expect(parsePath(path, 'shown')).toEqual(parts.flatMap((p) => p.segs));
        const texts = parts.map((p) => p.text);
        texts.splice(at % (texts.length + 1), 0, bad);
        const wrong = texts.join('.');
        const e = thrown(() => parsePath(wrong, `--set ${wrong}=1`));
        expect(e.message.startsWith(`--set ${wrong}=1: expected a path such as hypervisor.backend or vms[0].vcpus, got `)).toBe(true);
        expect(e.message).toContain(bad === '' ? 'an empty key (two dots, or one at an end)' : `got "${bad}"`);
        expect(e.message).not.toContain('\n');
      }),
    );
  });

  it('an override built without parsePath does not reach a prototype either', () => {
    const raw: Record<string, unknown> = { run: {} };
    for (const path of ['__proto__.x', 'run.constructor.x', 'run.__proto__', 'prototype']) {
      expect(applyOverride(raw, { path, value: 1, origin: 'test' })?.message).toBe('no scenario has this key (__proto__, constructor, prototype are refused)');
    }
    expect(({} as Record<string, unknown>)['x']).toBeUndefined();
    expect(raw).toEqual({ run: {} });
  });
});

describe('appending overrides (--plugin)', () => {
  it('add to the end of the list, creating it, one after another', () => {
    const raw: Record<string, unknown> = {};
    for (const v of ['/a.js', '/b.js']) expect(applyOverride(raw, { path: 'plugins', value: v, origin: `--plugin ${v}`, append: true })).toBeUndefined();
    expect(raw).toEqual({ plugins: ['/a.js', '/b.js'] });
    const withOwn: Record<string, unknown> = { plugins: ['./own.js'] };
    applyOverride(withOwn, { path: 'plugins', value: '/c.js', origin: '--plugin c.js', append: true });
    expect(withOwn).toEqual({ plugins: ['./own.js', '/c.js'] });
  });

  it("a problem of the appended entry is the --plugin's; one of the file's own entries stays the file's", () => {
    const fixtures = join(__dirname, '..', 'test', 'fixtures');
    const raw = { name: 's', host: { preset: 'small-1s-8t' }, vms: [{ name: 'a', vcpus: 2, workload: { kind: 'compute' } }], run: { duration: '1ms' }, plugins: ['./gone.js'] };
    const r = checkSource({ file: 's.yaml', raw, dir: fixtures }, [{ path: 'plugins', value: join(fixtures, 'plugin-empty.js'), origin: '--plugin plugin-empty.js', append: true }]);
    expect(r.lines).toEqual([
      `s.yaml: plugins[0]: "./gone.js" not found (looked for ${join(fixtures, 'gone.js')})`,
      `--plugin plugin-empty.js: plugins[1]: ${JSON.stringify(join(fixtures, 'plugin-empty.js'))} exports no ContainerModule; it exports notAModule (a number)`,
    ]);
  });
});

describe('__proto__ keys in a document', () => {
  it('are found at any depth, a document nested thousands deep included', () => {
    let deep: unknown = JSON.parse('{"__proto__": 1}');
    for (let i = 0; i < 20_000; i++) deep = [deep];
    const found = protoKeyProblems({ vms: deep });
    expect(found).toHaveLength(1);
    expect(found[0]!.key).toBe(`vms${'[0]'.repeat(20_000)}.__proto__`);
    expect(found[0]!.atKey).toBe(true);
  });
});

describe('values that hold themselves (a YAML alias inside its own anchor)', () => {
  it('are found, at any depth; a value used twice is not one', () => {
    const loop: unknown[] = [];
    loop.push({ a: loop });
    expect(holdsItself({ vms: loop })).toBe(true);
    const shared = { kind: 'compute' };
    expect(holdsItself({ a: shared, b: [shared, shared], c: { d: shared } })).toBe(false);
    let deep: unknown = shared;
    for (let i = 0; i < 20_000; i++) deep = [deep, shared];
    expect(holdsItself({ vms: deep })).toBe(false);
    (shared as Record<string, unknown>)['back'] = deep;
    expect(holdsItself({ vms: deep })).toBe(true);
  });

  it('a --set value that would hold itself is its text', () => {
    expect(parseOverrideValue('&a [*a]')).toBe('&a [*a]');
    expect(parseOverrideValue('[&a {x: 1}, *a]')).toEqual([{ x: 1 }, { x: 1 }]);
  });

  it('a --set value YAML warns about (an unknown tag) or cannot read is its text; YAML it reads is its value', () => {
    expect(parseOverrideValue('!!float abc')).toBe('!!float abc');
    expect(parseOverrideValue('!- 1')).toBe('!- 1');
    expect(parseOverrideValue('!!binary aGVsbG8=')).toBe('!!binary aGVsbG8=');
    expect(parseOverrideValue('!!set {a, b}')).toBe('!!set {a, b}');
    expect(parseOverrideValue('!!str 5')).toBe('5');
    expect(parseOverrideValue('[1, 2')).toBe('[1, 2');
    expect(parseOverrideValue('*a')).toBe('*a');
    expect(parseOverrideValue('{kind: compute, tasks: 2}')).toEqual({ kind: 'compute', tasks: 2 });
    expect(parseOverrideValue('64')).toBe(64);
    expect(parseOverrideValue('')).toBeNull();
  });
});
