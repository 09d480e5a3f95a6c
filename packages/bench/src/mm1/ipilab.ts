import { Simulation } from '@ipilab/core';
import { ArrivalQueue, mm1Draws, type Mm1Params, type Mm1Result } from './params';

/** M/M/1 on @ipilab/core: two callbacks, no per-event allocation. */
export function runMm1Ipilab(p: Mm1Params): Mm1Result {
  const d = mm1Draws(p);
  const sim = new Simulation();
  const queue = new ArrivalQueue();
  let arrived = 0;
  let busy = false;
  let totalWait = 0;
  let lastDeparture = 0;

  const depart = (): void => {
    lastDeparture = sim.now;
    if (queue.length > 0) {
      totalWait += sim.now - queue.shift();
      sim.schedule(Math.round(d.service.exponential(d.meanService)), depart);
    } else {
      busy = false;
    }
  };
  const arrive = (): void => {
    if (++arrived < d.customers) {
      sim.schedule(Math.round(d.arrivals.exponential(d.meanInterarrival)), arrive);
    }
    if (busy) {
      queue.push(sim.now);
    } else {
      busy = true;
      sim.schedule(Math.round(d.service.exponential(d.meanService)), depart);
    }
  };

  sim.schedule(0, arrive);
  sim.run();
  return { customers: d.customers, events: sim.eventsProcessed, meanWaitNs: totalWait / d.customers, endTimeNs: lastDeparture };
}
