import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plusFromState } from 'pure-rand/generator/xoroshiro128plus';
import type { RandomGenerator } from 'pure-rand/types/RandomGenerator';
import { InvalidParameterError } from './errors';

/**
 * Derives the four 32-bit words of a xoroshiro128+ state from (run seed, stream name).
 * Each stream's state depends only on its own name and the seed, so creating streams in
 * any order — or adding a new entity — never shifts another stream's draws.
 * The mixing is a murmur3-style multiply/xor-shift over the name's UTF-16 units with four
 * lanes, finished with the murmur3 fmix32 avalanche (Appleby, MurmurHash3).
 */
function deriveState(seed: number, name: string): [number, number, number, number] {
  const lo = seed % 0x1_0000_0000;
  const hi = Math.floor(seed / 0x1_0000_0000);
  let h1 = (0x9e3779b9 ^ lo) | 0;
  let h2 = (0x85ebca6b ^ hi) | 0;
  let h3 = (0xc2b2ae35 ^ lo ^ 0x5bd1e995) | 0;
  let h4 = (0x27d4eb2f ^ hi ^ 0x165667b1) | 0;
  for (let i = 0; i < name.length; i++) {
    const k = name.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  // Length and the 0xff terminator separate "ab" + "" from "a" + "b" style collisions.
  h1 ^= name.length;
  h4 ^= 0xff;
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  const s = [fmix32(h1 ^ h2 ^ h3 ^ h4), fmix32(h2 ^ h1), fmix32(h3 ^ h1), fmix32(h4 ^ h1)] as [number, number, number, number];
  // xoroshiro128+ must not start from the all-zero state.
  if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1;
  return s;
}

function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * The run's random streams: one independent xoroshiro128+ generator (pure-rand) per named
 * entity, derived from the run seed. The same (seed, name) always yields the same stream,
 * which is what lets variants of a scenario share random numbers.
 */
export class RandomStreams {
  private readonly streams = new Map<string, RandomStream>();

  constructor(readonly seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new InvalidParameterError('seed', seed, 'a non-negative integer below 2^53');
    }
  }

  /** The stream for `name`; asking twice returns the same stream, mid-sequence. */
  stream(name: string): RandomStream {
    if (typeof name !== 'string' || name.length === 0) {
      throw new InvalidParameterError('stream name', name, 'a non-empty string');
    }
    let s = this.streams.get(name);
    if (s === undefined) {
      s = new RandomStream(name, xoroshiro128plusFromState(deriveState(this.seed, name)));
      this.streams.set(name, s);
    }
    return s;
  }

  /** Names of the streams created so far, in creation order. */
  names(): string[] {
    return [...this.streams.keys()];
  }
}

/** One entity's sequence of draws. Not shared: each entity owns its stream. */
export class RandomStream {
  private spareNormal = NaN;

  constructor(
    readonly name: string,
    private readonly rng: RandomGenerator,
  ) {}

  /** Uniform in [0, 1), 53 random bits. */
  uniform(): number {
    return uniformFloat64(this.rng);
  }

  /** Uniform in [min, max). */
  uniformRange(min: number, max: number): number {
    if (!(Number.isFinite(min) && Number.isFinite(max) && min <= max)) {
      throw new InvalidParameterError(`${this.name}.uniformRange(min, max)`, [min, max], 'finite bounds with min <= max');
    }
    return min + (max - min) * uniformFloat64(this.rng);
  }

  /** Uniform integer in [min, max], both included. */
  integer(min: number, max: number): number {
    if (!(Number.isSafeInteger(min) && Number.isSafeInteger(max) && min <= max)) {
      throw new InvalidParameterError(`${this.name}.integer(min, max)`, [min, max], 'safe integers with min <= max');
    }
    return uniformInt(this.rng, min, max);
  }

  /** Exponential with the given mean (not rate), by inversion. */
  exponential(mean: number): number {
    if (!(mean > 0 && mean < Infinity)) {
      throw new InvalidParameterError(`${this.name}.exponential(mean)`, mean, 'a positive, finite mean');
    }
    // 1 - u is in (0, 1], so the log is finite.
    return -mean * Math.log(1 - uniformFloat64(this.rng));
  }

  /** Normal by the Box-Muller transform; the second variate of each pair is kept for the next call. */
  normal(mean: number, sd: number): number {
    if (!(Number.isFinite(mean) && sd >= 0 && sd < Infinity)) {
      throw new InvalidParameterError(`${this.name}.normal(mean, sd)`, [mean, sd], 'a finite mean and a non-negative, finite sd');
    }
    let z = this.spareNormal;
    if (Number.isNaN(z)) {
      const u1 = 1 - uniformFloat64(this.rng);
      const u2 = uniformFloat64(this.rng);
      const r = Math.sqrt(-2 * Math.log(u1));
      z = r * Math.cos(2 * Math.PI * u2);
      this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    } else {
      this.spareNormal = NaN;
    }
    return mean + sd * z;
  }

  /** Lognormal: exp of a normal with parameters `mu` and `sigma` (of the underlying normal). */
  lognormal(mu: number, sigma: number): number {
    if (!(Number.isFinite(mu) && sigma >= 0 && sigma < Infinity)) {
      throw new InvalidParameterError(`${this.name}.lognormal(mu, sigma)`, [mu, sigma], 'a finite mu and a non-negative, finite sigma');
    }
    return Math.exp(this.normal(mu, sigma));
  }

  /** True with probability p. */
  bernoulli(p: number): boolean {
    if (!(p >= 0 && p <= 1)) {
      throw new InvalidParameterError(`${this.name}.bernoulli(p)`, p, 'a probability in [0, 1]');
    }
    return uniformFloat64(this.rng) < p;
  }

  /** One element, uniformly. */
  choice<T>(items: readonly T[]): T {
    if (!Array.isArray(items) || items.length === 0) {
      throw new InvalidParameterError(`${this.name}.choice(items)`, items, 'a non-empty array');
    }
    return items[uniformInt(this.rng, 0, items.length - 1)]!;
  }
}

/** Parameters of a lognormal with the given mean and coefficient of variation (sd / mean). */
export function lognormalParams(mean: number, cv: number): { mu: number; sigma: number } {
  if (!(mean > 0 && mean < Infinity)) throw new InvalidParameterError('lognormalParams(mean)', mean, 'a positive, finite mean');
  if (!(cv >= 0 && cv < Infinity)) throw new InvalidParameterError('lognormalParams(cv)', cv, 'a non-negative, finite coefficient of variation');
  const sigma2 = Math.log(1 + cv * cv);
  return { mu: Math.log(mean) - sigma2 / 2, sigma: Math.sqrt(sigma2) };
}
