import { cli, cliOn, fakeTerminal, small, withoutTimes } from '../test/run-cli';
import { EXIT } from './main';
import { compact, ProgressView, progressOn, simulatedText, tally } from './progress';

/** A wall clock that moves `step` ms each time it is read. */
const ticking = (step: number): (() => number) => {
  let t = 0;
  return () => (t += step);
};

describe('progress on stderr', () => {
  it('draws nothing for a short run, then the share done, simulated time, events/s and ETA; erased at the end', () => {
    const term = fakeTerminal();
    let now = 0;
    const view = new ProgressView('run', term, () => now);
    let drawn: number;
    try {
      now = 100;
      view.update(0.1, 1_000, 'a');
      expect(term.text).toBe('');
      now = 1_000;
      view.update(0.5, 2_000_000, '20.0 of 40.0 ms simulated');
      expect(term.text).toMatch(/run \[[^\]]+\] 50% \| 20\.0 of 40\.0 ms simulated \| 2\.00 M events\/s \| ETA /);
      drawn = term.text.length;
    } finally {
      view.stop(); // its redraw timer would keep the process alive
    }
    // clearOnComplete: the line is cleared, so the terminal keeps only the results.
    expect(term.text.slice(drawn)).toContain('\x1b[2K');
  });

  it('is only made for a terminal', () => {
    expect(progressOn('run', { isTTY: false, write: () => true })).toBeUndefined();
    expect(progressOn('run', { write: () => true })).toBeUndefined();
    expect(progressOn('run', fakeTerminal())).toBeInstanceOf(ProgressView);
  });

  it('counts each run of a run with baselines (and of a compare) as equal work, and adds up their events', () => {
    const seen: [number, number, string][] = [];
    const view = { update: (f: number, e: number, d: string) => seen.push([f, e, d]) } as unknown as ProgressView;
    const t = tally(view);
    const at = (run: number, ns: number, events: number) => ({ run, runs: 2, simulatedNs: ns, durationNs: 1e6, events });
    t(0, 2, at(1, 5e5, 10));
    t(0, 2, at(1, 1e6, 20));
    t(0, 2, at(2, 5e5, 5));
    t(1, 2, at(1, 5e5, 7));
    expect(seen.map(([f, e]) => [f, e])).toEqual([[0.125, 10], [0.25, 20], [0.375, 25], [0.625, 32]]);
    expect(seen[2]![2]).toBe('0.5 of 1.0 ms simulated (run 2 of 2: a baseline)');
    expect(simulatedText({ run: 1, runs: 1, simulatedNs: 2.5e9, durationNs: 1e10, events: 0 })).toBe('2.5 of 10.0 s simulated');
    expect(compact(950)).toBe('950');
    expect(compact(12_345)).toBe('12.3 k');
  });
});

describe('the CLI shows progress on a terminal only, and the results do not depend on it', () => {
  it('run: a bar on a terminal stderr with the same JSON as without one; nothing on a pipe', async () => {
    const argv = ['run', small, '--json', '--set', 'run.slowdownVsBareMetal=true'];
    const term = fakeTerminal();
    const shown = await cliOn(term, ticking(50), ...argv);
    expect(shown.code).toBe(EXIT.ok);
    expect(term.text).toMatch(/run \[.*\] \d+% \| [\d.]+ of 2\.0 ms simulated \(run 1 of 3: the scenario\) \| [\d.]+ [kMG]? ?events\/s \| ETA /);
    const piped = await cli(...argv);
    expect(piped.err).toBe('');
    expect(withoutTimes(shown.out)).toBe(withoutTimes(piped.out));
  });

  it('compare says which run of how many it is on', async () => {
    const term = fakeTerminal();
    const r = await cliOn(term, ticking(50), 'compare', small, '--vary', 'hypervisor.backend=trap,pv', '--json');
    expect(r.code).toBe(EXIT.ok);
    // Later frames are drawn at most every 200 ms of real time: the first one is certain.
    expect(term.text).toMatch(/compare \[.*\] \d+% \| run 1 of 2: [\d.]+ of 2\.0 ms simulated \| /);
    expect(withoutTimes(r.out)).toBe(withoutTimes((await cli('compare', small, '--vary', 'hypervisor.backend=trap,pv', '--json')).out));
  });
});
