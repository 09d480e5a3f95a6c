import { ArrivalQueue, mm1Draws, type Mm1Params, type Mm1Result } from './params';

// SIM.JS 2.0.3 ships no types; this is the slice of its API the benchmark uses.
interface SimjsRequest {
  done(callback: () => void, context?: object): SimjsRequest;
}
interface SimjsEntity {
  setTimer(duration: number): SimjsRequest;
  useFacility(facility: object, duration: number): SimjsRequest;
  time(): number;
}
interface SimjsSim {
  addEntity(klass: new (...args: never[]) => object): SimjsEntity;
  simulate(endTime: number): boolean;
}
interface SimjsModule {
  Sim: new () => SimjsSim;
  Entity: new (...args: never[]) => SimjsEntity;
  Facility: new (name: string) => object;
}

let cached: SimjsModule | undefined;

/**
 * The npm build of SIM.JS is a browserify bundle whose only export is `window.Sim`; give it a
 * `window` to write to, then take the API from there.
 */
function loadSimjs(): SimjsModule {
  if (cached !== undefined) return cached;
  const g = globalThis as { window?: { Sim?: SimjsModule } };
  const hadWindow = 'window' in g;
  g.window ??= {};
  require('simjs');
  const api = g.window.Sim;
  if (!hadWindow) delete g.window;
  if (api === undefined) throw new Error('simjs did not define window.Sim; is simjs 2.0.3 installed?');
  cached = api;
  return api;
}

/**
 * The M/M/1 the way SIM.JS documents it: customers are timer-driven arrivals that `useFacility`
 * a FCFS server (its queue, busy-server bookkeeping and Population statistics included).
 * Service times are drawn at arrival; under FCFS that is the same sequence of draws as the other
 * variants, so the mean wait must agree.
 */
export function runMm1Simjs(p: Mm1Params): Mm1Result {
  const simjs = loadSimjs();
  const d = mm1Draws(p);
  let arrived = 0;
  let totalWait = 0;
  let lastDeparture = 0;
  let events = 0;
  const server = new simjs.Facility('server');

  class Source extends simjs.Entity {
    start(): void {
      this.setTimer(0).done(this.arrive, this);
    }
    arrive(): void {
      events++;
      const arrivedAt = this.time();
      const service = Math.round(d.service.exponential(d.meanService));
      this.useFacility(server, service).done(() => {
        events++;
        const now = this.time();
        lastDeparture = now;
        totalWait += now - arrivedAt - service;
      });
      if (++arrived < d.customers) {
        this.setTimer(Math.round(d.arrivals.exponential(d.meanInterarrival))).done(this.arrive, this);
      }
    }
  }

  const sim = new simjs.Sim();
  sim.addEntity(Source);
  sim.simulate(Number.MAX_SAFE_INTEGER);
  return { customers: d.customers, events, meanWaitNs: totalWait / d.customers, endTimeNs: lastDeparture };
}

/**
 * The same M/M/1 on SIM.JS's bare timers with this file's own FIFO: the kernel-to-kernel
 * comparison, without SIM.JS's Facility.
 */
export function runMm1SimjsTimers(p: Mm1Params): Mm1Result {
  const simjs = loadSimjs();
  const d = mm1Draws(p);
  const queue = new ArrivalQueue();
  let arrived = 0;
  let busy = false;
  let totalWait = 0;
  let lastDeparture = 0;
  let events = 0;

  class Mm1 extends simjs.Entity {
    start(): void {
      this.setTimer(0).done(this.arrive, this);
    }
    arrive(): void {
      events++;
      const now = this.time();
      if (++arrived < d.customers) {
        this.setTimer(Math.round(d.arrivals.exponential(d.meanInterarrival))).done(this.arrive, this);
      }
      if (busy) {
        queue.push(now);
      } else {
        busy = true;
        this.setTimer(Math.round(d.service.exponential(d.meanService))).done(this.depart, this);
      }
    }
    depart(): void {
      events++;
      const now = this.time();
      lastDeparture = now;
      if (queue.length > 0) {
        totalWait += now - queue.shift();
        this.setTimer(Math.round(d.service.exponential(d.meanService))).done(this.depart, this);
      } else {
        busy = false;
      }
    }
  }

  const sim = new simjs.Sim();
  sim.addEntity(Mm1);
  sim.simulate(Number.MAX_SAFE_INTEGER);
  return { customers: d.customers, events, meanWaitNs: totalWait / d.customers, endTimeNs: lastDeparture };
}
