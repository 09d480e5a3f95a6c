import fc from 'fast-check';
import { InvalidParameterError, RandomStreams, lognormalParams } from './index';

const draw = (streams: RandomStreams, name: string, n: number): number[] => {
  const s = streams.stream(name);
  return Array.from({ length: n }, () => s.uniform());
};

describe('RandomStreams', () => {
  it("an entity's draws do not depend on which other streams exist or the order they were created", () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 48 }),
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 8 }),
        fc.infiniteStream(fc.nat()),
        (seed, names, picks) => {
          const alone = new RandomStreams(seed);
          const reference = new Map(names.map((n) => [n, draw(alone, n, 5)]));
          // Create the streams again in a shuffled order, interleaving draws and adding extra entities.
          const shuffled = [...names];
          const it = picks[Symbol.iterator]();
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = it.next().value! % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j]!, shuffled[i]!];
          }
          const mixed = new RandomStreams(seed);
          draw(mixed, '\u0000extra entity', 3);
          for (const n of shuffled) expect(draw(mixed, n, 5)).toEqual(reference.get(n));
        },
      ),
    );
  });

  it('the same (seed, name) gives the same sequence; another seed or name gives another', () => {
    expect(draw(new RandomStreams(7), 'vcpu0', 10)).toEqual(draw(new RandomStreams(7), 'vcpu0', 10));
    expect(draw(new RandomStreams(7), 'vcpu0', 10)).not.toEqual(draw(new RandomStreams(8), 'vcpu0', 10));
    expect(draw(new RandomStreams(7), 'vcpu0', 10)).not.toEqual(draw(new RandomStreams(7), 'vcpu1', 10));
    // Seeds that differ only above bit 32 are still different runs.
    expect(draw(new RandomStreams(1), 'x', 4)).not.toEqual(draw(new RandomStreams(1 + 2 ** 32), 'x', 4));
  });

  it('asking for a stream twice continues it rather than restarting it', () => {
    const streams = new RandomStreams(3);
    const first = draw(streams, 'a', 3);
    const next = draw(streams, 'a', 3);
    expect(draw(new RandomStreams(3), 'a', 6)).toEqual([...first, ...next]);
    expect(streams.names()).toEqual(['a']);
  });
});

describe('RandomStream distributions', () => {
  const N = 40_000;
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = (xs: number[]): number => {
    const m = mean(xs);
    return Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  };
  const s = new RandomStreams(99).stream('dist');
  const sample = (f: () => number): number[] => Array.from({ length: N }, f);

  it('uniform is in [0, 1) with mean 1/2', () => {
    const xs = sample(() => s.uniform());
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...xs)).toBeLessThan(1);
    expect(mean(xs)).toBeCloseTo(0.5, 2);
  });

  it('uniformRange and integer respect their bounds; integer reaches both ends', () => {
    const xs = sample(() => s.uniformRange(-3, 5));
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(-3);
    expect(Math.max(...xs)).toBeLessThan(5);
    const ks = new Set(sample(() => s.integer(2, 6)));
    expect([...ks].sort()).toEqual([2, 3, 4, 5, 6]);
  });

  it('exponential has the requested mean and sd = mean', () => {
    const xs = sample(() => s.exponential(1_000));
    expect(mean(xs) / 1_000).toBeCloseTo(1, 1);
    expect(sd(xs) / 1_000).toBeCloseTo(1, 1);
    expect(Math.min(...xs)).toBeGreaterThanOrEqual(0);
  });

  it('normal has the requested mean and sd', () => {
    const xs = sample(() => s.normal(10, 2));
    expect(mean(xs)).toBeCloseTo(10, 1);
    expect(sd(xs)).toBeCloseTo(2, 1);
  });

  it('lognormal from lognormalParams has the requested mean and coefficient of variation', () => {
    const { mu, sigma } = lognormalParams(500, 0.3);
    const xs = sample(() => s.lognormal(mu, sigma));
    expect(mean(xs) / 500).toBeCloseTo(1, 1);
    expect(sd(xs) / mean(xs)).toBeCloseTo(0.3, 1);
    expect(Math.min(...xs)).toBeGreaterThan(0);
  });

  it('bernoulli(p) is true about p of the time; choice covers every item', () => {
    const hits = sample(() => (s.bernoulli(0.2) ? 1 : 0));
    expect(mean(hits)).toBeCloseTo(0.2, 2);
    expect(new Set(Array.from({ length: 2000 }, () => s.choice(['a', 'b', 'c'])))).toEqual(new Set(['a', 'b', 'c']));
  });

  const bad: [string, () => unknown, string][] = [
    ['seed', () => new RandomStreams(-1), 'seed: expected a non-negative integer below 2^53, got -1'],
    ['fractional seed', () => new RandomStreams(1.5), 'seed: expected a non-negative integer below 2^53, got 1.5'],
    ['stream name', () => new RandomStreams(1).stream(''), 'stream name: expected a non-empty string, got ""'],
    ['exponential mean', () => s.exponential(-2), 'dist.exponential(mean): expected a positive, finite mean, got -2'],
    ['exponential NaN', () => s.exponential(NaN), 'dist.exponential(mean): expected a positive, finite mean, got NaN'],
    ['normal sd', () => s.normal(0, -1), 'dist.normal(mean, sd): expected a finite mean and a non-negative, finite sd'],
    ['lognormal sigma', () => s.lognormal(0, Infinity), 'dist.lognormal(mu, sigma): expected a finite mu and a non-negative, finite sigma'],
    ['bernoulli p', () => s.bernoulli(1.5), 'dist.bernoulli(p): expected a probability in [0, 1], got 1.5'],
    ['choice of nothing', () => s.choice([]), 'dist.choice(items): expected a non-empty array, got an array of length 0'],
    ['integer bounds', () => s.integer(5, 1), 'dist.integer(min, max): expected safe integers with min <= max'],
    ['uniformRange bounds', () => s.uniformRange(2, NaN), 'dist.uniformRange(min, max): expected finite bounds with min <= max'],
    ['lognormalParams cv', () => lognormalParams(1, -0.1), 'lognormalParams(cv): expected a non-negative, finite coefficient of variation, got -0.1'],
  ];
  it.each(bad)('bad %s gives an InvalidParameterError naming it', (_n, act, text) => {
    expect(act).toThrow(InvalidParameterError);
    expect(act).toThrow(text);
  });
});
