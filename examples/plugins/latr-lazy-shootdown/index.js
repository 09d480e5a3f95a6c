'use strict';
// An ipilab plugin, written as an outsider writes one: a LATR-style lazy TLB shootdown
// (`vms[].shootdownStrategy: latr`), after Kumar, Maass, Kashyap, Veselý, Yan, Kim,
// Bhattacharjee and Krishna, "LATR: Lazy Translation Coherence", ASPLOS 2018
// (https://doi.org/10.1145/3173162.3173198; their Linux 4.10 patch: github.com/sslab-gatech/latr).
//
// The mechanism, as the paper describes it (cited by topic: the section numbers were not
// checked against the paper here):
// - Design, "LATR states": a free (munmap, madvise(MADV_DONTNEED): the translation goes away)
//   invalidates the initiator's own TLB, records a LATR state — the address space, the pages
//   and the CPUs that may cache them — and returns at once: no IPI, no remote handler, no wait.
// - Design, "lazy invalidation": every other CPU reads the LATR states at its next scheduler
//   tick or context switch and invalidates what they name in its own TLB (the paper sweeps the
//   per-CPU state arrays from scheduler_tick and the context-switch path), clearing its bit.
// - Design, "reclamation": the virtual range and the pages are not reused until every CPU of the
//   state has swept it (the paper waits a tick period plus a margin, after which every CPU has
//   necessarily ticked; here the release follows the last sweep exactly). Until then a stale
//   entry can only reach memory nothing else has been given.
// - Use cases: only frees (and, in the paper, AutoNUMA's migration with its own extra step) are
//   lazy; a permission downgrade, copy-on-write or a migration must not leave an old translation
//   usable, so every in-place change takes the synchronous path (`sync`, Linux's own) here.
//
// What ipilab gives the strategy for this (ShootdownContext): `req.kind` says whether the change
// is a free; `deferRelease(req)` lets the initiator go at `done` while the frames and the range
// stay held until the returned function is called; `onNextTickOrSwitch(v, fn)` runs `fn` in v's
// context at its next tick or context switch and charges what it returns there.
//
// Costs (estimates, not measurements; options of the plugin, so a user can set them):
// `stateNs` for writing one LATR state (a cache line or two in the initiator's per-CPU array),
// `sweepNs` per state a CPU reads at its tick or switch, besides the invalidation itself.

const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { shootdownStrategies, SynchronousShootdown } = require('@ipilab/guest');

/** Estimate: writing one LATR state (space, range, CPU mask) in the initiator's per-CPU array. */
const DEFAULT_STATE_NS = 60;
/** Estimate: a CPU reading one LATR state at its tick or switch and clearing its bit. */
const DEFAULT_SWEEP_NS = 20;

class LatrShootdown {
  constructor(options = {}) {
    this.name = 'latr';
    this.stateNs = options.stateNs ?? DEFAULT_STATE_NS;
    this.sweepNs = options.sweepNs ?? DEFAULT_SWEEP_NS;
    this.sync = new SynchronousShootdown();
    /** LATR states recorded, sweeps run, and states whose pages were released (for tests). */
    this.stats = { states: 0, sweeps: 0, released: 0, synchronous: 0 };
  }

  flush(ctx, req, done) {
    // In-place changes stay synchronous, as in the paper.
    if (req.kind !== 'free') {
      this.stats.synchronous++;
      this.sync.flush(ctx, req, done);
      return;
    }
    const { initiator, space, vpns } = req;
    const local = space.cpuMask.has(initiator.index) ? ctx.invalidateOn(initiator, space, vpns) : 0;
    // The CPUs that may cache the pages: those running the space now. Those that switched away
    // flush when they come back (flushTargets marks them); a lazy-TLB CPU runs no user code, so
    // unless page tables were freed (a speculative walk could use them) it catches up likewise.
    let targets = ctx.flushTargets(initiator, space);
    if (req.freedTables !== true) targets = ctx.skipLazy(space, targets);
    const stats = this.stats;
    if (targets.length === 0) {
      // Nobody else to wait for: a plain local flush, released at done.
      initiator.pushWork(local, done);
      return;
    }
    stats.states++;
    const release = ctx.deferRelease(req);
    let left = targets.length;
    const sweepNs = this.sweepNs;
    const sweep = (v) => {
      stats.sweeps++;
      const cost = ctx.invalidateOn(v, space, vpns) + sweepNs;
      // The last CPU of the state has swept: the range and the pages may be reused.
      if (--left === 0) {
        stats.released++;
        release();
      }
      return cost;
    };
    for (const t of targets) ctx.onNextTickOrSwitch(t, sweep);
    // The initiator goes on after its own flush and the state write: no IPI, no wait.
    initiator.pushWork(local + this.stateNs, done);
  }
}

/** The strategy a scenario's `vms[].shootdownStrategy: latr` picks (one instance per run). */
const latrShootdown = () => new LatrShootdown();

/** The instance registered as `latr` (its `stats` count what every run using it did). */
const registered = new LatrShootdown();

module.exports = new ContainerModule((options) => {
  contributePolicy(options, shootdownStrategies, 'latr', registered);
});
module.exports.registered = registered;
module.exports.LatrShootdown = LatrShootdown;
module.exports.latrShootdown = latrShootdown;
