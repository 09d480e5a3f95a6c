import { validateScenario } from './load';
import { EVENTS_PER_VCPU_MS, MIN_EVENT_BUDGET, eventBudget, eventBudgetMessage } from './resource-guard';

const scenario = (run: Record<string, unknown>, vms = [{ name: 'a', vcpus: 256, workload: { kind: 'ebizzy' } }]) =>
  validateScenario({ host: { sockets: 8, coresPerSocket: 64, threadsPerCore: 2, ghz: 2.5 }, vms, run });

describe('the event budget (run.maxEvents)', () => {
  it("defaults to 'auto': scaled with the vCPUs (every copy) and the simulated time, never below the old fixed default", () => {
    expect(scenario({ duration: '1s' }).run.maxEvents).toBe('auto');
    expect(eventBudget(scenario({ duration: '1s' }))).toEqual({ events: 256 * 1000 * EVENTS_PER_VCPU_MS, auto: true, vcpus: 256 });
    expect(eventBudget(scenario({ duration: '2s' })).events).toBe(2 * 256 * 1000 * EVENTS_PER_VCPU_MS);
    const copies = [{ name: 'a', vcpus: 64, count: 4, workload: { kind: 'ebizzy' } }, { name: 'b', vcpus: 256, workload: { kind: 'ebizzy' } }];
    expect(eventBudget(scenario({ duration: '1s' }, copies))).toMatchObject({ events: 512 * 1000 * EVENTS_PER_VCPU_MS, vcpus: 512 });
    expect(eventBudget(scenario({ duration: '1ms' })).events).toBe(MIN_EVENT_BUDGET);
    // The run: ebizzy free=madvise at 256 vCPUs makes about 267 M events in 1 s, over the old 200 M.
    expect(eventBudget(scenario({ duration: '1s' })).events).toBeGreaterThan(10 * 267_000_000);
  });

  it('a number the user sets wins, however small; anything else but "auto" is refused', () => {
    expect(eventBudget(scenario({ duration: '1s', maxEvents: 50 }))).toEqual({ events: 50, auto: false, vcpus: 256 });
    expect(() => scenario({ duration: '1s', maxEvents: 'atuo' })).toThrow('run.maxEvents: expected one of "auto", got "atuo"; did you mean "auto"?');
    expect(() => scenario({ duration: '1s', maxEvents: 0 })).toThrow('run.maxEvents: expected a positive integer, got 0');
  });

  it('stopping a run, it says whether the budget was scaled from the scenario, how, and how to raise it', () => {
    const auto = scenario({ duration: '1s' });
    expect(eventBudgetMessage(auto, eventBudget(auto), 4_000_000)).toBe(
      "the run used its budget of 5,120,000,000 events by 4,000,000 ns of 1,000,000,000, a budget scaled from the scenario ('auto': 20,000 events per vCPU per simulated ms, 256 vCPUs x 1,000 ms x 20,000), a few times what the busiest known scenarios make: the model may be making events without time moving on; if the run is meant to be this busy, set run.maxEvents to a larger number",
    );
    const short = scenario({ duration: '1ms' });
    expect(eventBudgetMessage(short, eventBudget(short), 10)).toContain("('auto': 20,000 events per vCPU per simulated ms, at least 200,000,000)");
    const set = scenario({ duration: '1s', maxEvents: 50 });
    expect(eventBudgetMessage(set, eventBudget(set), 10)).toBe('the run used its budget of 50 events by 10 ns of 1,000,000,000; shorten run.duration or raise run.maxEvents');
  });
});
