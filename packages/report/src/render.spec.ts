import { renderSvg } from './render';
import { scaleFor, unitOf, withUnit } from './palette';

describe('renderSvg', () => {
  it('refuses a chart vega-lite or vega warns about, instead of shipping it drawn otherwise than written', async () => {
    await expect(renderSvg({ title: 'bad', data: { values: [{ a: 0, b: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative', scale: { type: 'log' } }, y: { field: 'b', type: 'quantitative' } } })).rejects.toThrow(
      /^chart "bad": .*Log scale domain includes zero/,
    );
    await expect(renderSvg({ data: { values: [{ a: 1, b: 1 }] }, mark: 'point', encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } } })).resolves.toMatch(/^<svg/);
  });
});

describe('axes', () => {
  it('log scale only when positive values span more than two decades', () => {
    expect(scaleFor([1, 2, 4, 8, 16, 32])).toEqual({ type: 'linear', zero: false });
    expect(scaleFor([1, 100])).toEqual({ type: 'linear', zero: false });
    expect(scaleFor([1, 101])).toEqual({ type: 'log' });
    expect(scaleFor([0, 1000])).toEqual({ type: 'linear', zero: false });
  });

  it('a figure\'s unit comes from its name', () => {
    expect([unitOf('forksPerSecond'), unitOf('latencyP50Ns'), unitOf('seconds'), unitOf('share')]).toEqual(['/s', 'ns', 's', '']);
    expect(withUnit('latencyP50Ns')).toBe('latencyP50Ns (ns)');
    expect(withUnit('share')).toBe('share');
  });
});
