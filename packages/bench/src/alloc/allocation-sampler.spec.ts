import { AllocationSampler } from './allocation-sampler';

describe('AllocationSampler', () => {
  it('estimates the bytes allocated, including what was collected meanwhile, within a few per cent of a known amount', async () => {
    const sampler = new AllocationSampler();
    await sampler.start(4096);
    // 50,000 arrays of 256 doubles (2 KiB of elements each, ~100 MiB in all), each dropped
    // after the next ten: nearly all are collected before sampling stops.
    const ring: number[][] = [];
    for (let i = 0; i < 50_000; i++) {
      const a = new Array<number>(256).fill(i + 0.5);
      ring[i % 10] = a;
    }
    const { bytes, samples } = await sampler.stop();
    expect(ring).toHaveLength(10);
    const elements = 50_000 * 256 * 8;
    expect(samples).toBeGreaterThan(10_000);
    expect(bytes).toBeGreaterThan(elements * 0.95);
    // The arrays' headers and the elements' own headers add a few per cent.
    expect(bytes).toBeLessThan(elements * 1.15);
  });
});
