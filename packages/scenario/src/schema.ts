import { parseMetric } from './metrics';
import { policyRefName } from '@ipilab/di';
import { z } from 'zod';
import { parseDuration } from './duration';

/** The longest duration a scenario may give: the simulated clock's range (MAX_TIME, 2^53 - 1 ns). */
export const MAX_DURATION_NS = Number.MAX_SAFE_INTEGER;

/** A duration: a number of ns, or a string with a unit (ns, us, ms, s). */
const duration = z
  .union([z.number(), z.string()], { error: 'expected a duration such as "20ms", "250us" or a number of ns' })
  .transform((v, ctx) => {
    const ns = parseDuration(v);
    if (ns === undefined) {
      ctx.addIssue({ code: 'custom', message: `expected a duration such as "20ms", "250us" or a number of ns, got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    // The simulated clock counts ns in a double: past 2^53 it cannot tell one ns from the next.
    if (ns > MAX_DURATION_NS) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at most ${MAX_DURATION_NS} ns (about 104 days: the simulated clock's range), got ${JSON.stringify(v)}` });
      return z.NEVER;
    }
    return ns;
  })
  .meta({ description: 'A duration: a number of nanoseconds, or a string with a unit: "250us", "20ms", "1s".' });

const positiveInt = z
  .number({ error: 'expected a positive integer' })
  .int({ error: 'expected a positive integer' })
  .positive({ error: 'expected a positive integer' });
const nonNegInt = z
  .number({ error: 'expected a non-negative integer' })
  .int({ error: 'expected a non-negative integer' })
  .nonnegative({ error: 'expected a non-negative integer' });
const bool = z.boolean({ error: 'expected true or false' });
const str = z.string({ error: 'expected a string' });

const policyOptions = z.record(z.string(), z.unknown(), { error: 'expected a map of options' }).meta({ description: 'Options for the policy, checked against the schema it exports; a policy without one takes none.' });

/**
 * A registered policy picked by name (`trap`), or by name with options (`{ name: trap, options: { ... } }`):
 * the names are the registry's, checked when the run is assembled (after plugins load), not here.
 */
function policyRef(what: string): z.ZodUnion<[z.ZodString, z.ZodObject<{ name: z.ZodString; options: z.ZodOptional<typeof policyOptions> }, z.core.$strict>]> {
  return z.union([z.string(), z.object({ name: str, options: policyOptions.optional() }).strict()], { error: `expected ${what} name, or { name, options }` });
}

export const hostSchema = z
  .object({
    preset: policyRef('a host preset').optional().meta({ description: 'A host preset (ipilab presets lists them), or a plugin\'s; or { name, options }.' }),
    sockets: positiveInt.optional(),
    coresPerSocket: positiveInt.optional(),
    threadsPerCore: positiveInt.optional(),
    ghz: z.number({ error: 'expected a clock rate in GHz' }).positive({ error: 'expected a clock rate in GHz (> 0)' }).optional(),
  })
  .strict()
  .meta({ description: 'The physical machine: a preset, or sockets x coresPerSocket x threadsPerCore at ghz (explicit fields override the preset).' });

export const calibrationSchema = z
  .object({
    profile: policyRef('a calibration profile').default('kvm-skylake-2018').meta({ description: 'A calibration profile (ipilab presets lists them), or a plugin\'s; or { name, options }.' }),
    overrides: z.record(z.string(), z.number({ error: 'expected a number' })).default({}).meta({ description: 'Cost fields to override, each in the field\'s own unit.' }),
  })
  .strict();

export const hypervisorSchema = z
  .object({
    mode: z
      .enum(['kvm', 'bare-metal'])
      .default('kvm')
      .meta({ description: 'kvm: VMs under KVM. bare-metal: no hypervisor; the one VM (count 1) runs natively, one vCPU per pCPU, with the native IPI backend whatever backend says.' }),
    backend: policyRef('an IPI backend').default('trap').meta({ description: 'IPI backend: trap, pv, posted, or a plugin\'s name (bare-metal mode always uses native); or { name, options }.' }),
    apicMode: z.enum(['xapic', 'x2apic-physical', 'x2apic-cluster']).default('x2apic-physical'),
    pv: z
      .object({ sendIpi: bool.default(true), tlbFlush: bool.default(true), schedYield: bool.default(false) })
      .strict()
      .default({ sendIpi: true, tlbFlush: true, schedYield: false }),
    postedInterrupts: bool.default(true).meta({ description: 'Receive-side posted interrupts (APICv / AVIC).' }),
    posted: z
      .object({
        flavour: z.enum(['ipiv', 'avic']).optional().meta({ description: 'Send-side IPI virtualization the posted backend follows: ipiv (the sender never exits) or avic (the sender exits when the target is not running or polling). Default: the calibration profile\'s vendor.' }),
      })
      .strict()
      .default({}),
    ple: z
      .object({
        enabled: bool.optional().meta({ description: 'Pause-loop exiting and directed yield. Default: on (KVM turns it on wherever the processor has it), except under the fifo host scheduler, which refuses it.' }),
        window: z.number({ error: 'expected a window' }).int({ error: 'expected an integer window' }).min(1, { error: 'expected a window >= 1' }).optional().meta({ description: 'Base window: TSC cycles of a PAUSE loop on Intel (ple_window, default 4096), PAUSE instructions on AMD (pause_filter_count, default 3000).' }),
        grow: z.number({ error: 'expected a number' }).min(0, { error: 'expected a number >= 0' }).optional().meta({ description: 'Window growth per exit (default 2: doubles).' }),
        shrink: z.number({ error: 'expected a number' }).min(0, { error: 'expected a number >= 0' }).optional().meta({ description: 'Window shrink when the vCPU is scheduled in (default 0: back to the base).' }),
        max: z.number({ error: 'expected a number' }).int({ error: 'expected an integer' }).min(1, { error: 'expected a number >= 1' }).optional().meta({ description: 'Largest window (Intel UINT_MAX, AMD 65535).' }),
      })
      .strict()
      .default({}),
    lapicTimer: z
      .enum(['preemption-timer', 'hrtimer'])
      .optional()
      .meta({ description: 'How KVM emulates the guest\'s TSC-deadline timer: preemption-timer (Intel VMX preemption timer: a fastpath exit per expiry in guest mode) or hrtimer (a host hrtimer: an external-interrupt exit). Default: the calibration profile\'s vendor.' }),
    boostIpiTargets: bool.default(true).meta({ description: 'A vCPU woken by an interrupt is a candidate for directed yield (vcpu->ready, KVM since Linux 5.3: "KVM: Boost vCPUs that are delivering interrupts"). Default: on, as in KVM.' }),
    serviceCapacity: z.union([positiveInt, z.literal('unlimited')]).default('unlimited'),
    serviceReasons: z.array(z.enum(['apic-write', 'hypercall', 'external-interrupt', 'incomplete-ipi', 'hlt', 'preemption-timer', 'msr-write', 'pause', 'io'])).optional(),
    scheduler: z
      .object({
        policy: policyRef('a host scheduler policy').default('eevdf').meta({ description: 'Host scheduler for vCPU threads: eevdf (Linux >= 6.6), cfs (<= 6.5), fifo (ipilab\'s original round robin), or a plugin\'s name; or { name, options }.' }),
        hz: z.number({ error: 'expected a tick rate in Hz' }).int({ error: 'expected an integer tick rate in Hz' }).min(1, { error: 'expected a tick rate in Hz >= 1' }).max(10_000, { error: 'expected a tick rate in Hz <= 10000' }).default(1000).meta({ description: 'Host scheduler tick (CONFIG_HZ).' }),
        migrate: bool.default(true).meta({ description: 'Unpinned vCPU threads move between the pCPUs they may use (wake-up placement, load balancing).' }),
        timeSlice: duration.optional().meta({ description: 'Round-robin slice of the fifo policy (default 3 ms); eevdf and cfs derive their slices from the kernel\'s tunables and refuse it.' }),
        forfeitOnYield: bool.optional().meta({ description: 'eevdf only (default true): a yielding vCPU thread (directed yield, PV sched yield) forfeits the rest of its slice, as Linux >= 6.18 and the stable kernels with commit 79104becf42b do; false: only its deadline moves a slice on at each yield, as Linux 6.6-6.17 did, so a vCPU yielding in a row runs its deadline away.' }),
      })
      .strict()
      .superRefine((sched, ctx) => {
        const policy = policyRefName(sched.policy);
        // A key that would change nothing must not be accepted silently.
        if (sched.forfeitOnYield !== undefined && policy !== 'eevdf') {
          ctx.addIssue({ code: 'custom', path: ['forfeitOnYield'], message: `no forfeitOnYield under ${policy}: it is how eevdf's yield_task_fair treats the yielder (remove it, or set policy: eevdf)` });
        }
        if (sched.timeSlice !== undefined && (policy === 'eevdf' || policy === 'cfs')) {
          ctx.addIssue({ code: 'custom', path: ['timeSlice'], message: `no timeSlice under ${policy}, which derives its slices from ${policy === 'eevdf' ? 'sched_base_slice' : 'sched_latency and sched_min_granularity'}; only fifo (or a plugin policy) has a fixed slice (remove it, or set policy: fifo)` });
        }
      })
      .default({ policy: 'eevdf', hz: 1000, migrate: true }),
    haltPoll: z
      .object({ max: duration.default(200_000), grow: z.number({ error: 'expected a number' }).min(1, { error: 'expected a number >= 1' }).default(2), growStart: duration.default(10_000), shrink: z.number({ error: 'expected a number' }).min(0, { error: 'expected a number >= 0' }).default(0) })
      .strict()
      .default({ max: 200_000, grow: 2, growStart: 10_000, shrink: 0 }),
  })
  .strict()
  .superRefine((h, ctx) => {
    // fifo's boost puts the yield target at the head of its queue whatever it has run: two
    // spinning vCPUs would yield to each other for ever and starve the rest.
    if (h.ple.enabled === true && policyRefName(h.scheduler.policy) === 'fifo') {
      ctx.addIssue({ code: 'custom', path: ['ple', 'enabled'], message: 'no pause-loop exiting under the fifo host scheduler (its directed yield jumps the queue, so spinning vCPUs would starve the others): set scheduler.policy to eevdf or cfs, or leave ple off' });
    }
  });

export const workloadSchema = z
  .object({
    kind: str.optional().meta({ description: 'ipi-bench, ebizzy, hackbench, fork-cow, huge-split, irq-pipeline, compute, will-it-scale, or a plugin\'s; its parameters beside it.' }),
    name: str.optional().meta({ description: 'The kind, in the { name, options } form: its parameters in options.' }),
    options: policyOptions.optional(),
  })
  .catchall(z.unknown())
  .superRefine((w, ctx) => {
    // As a missing required key, so a near miss beside it (`KIND`) is named as the typo.
    if (w.kind === undefined && w.name === undefined) ctx.addIssue({ code: 'invalid_type', expected: 'string', input: undefined, path: ['kind'], message: 'expected a string' });
    else if (w.kind !== undefined && w.name !== undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'expected kind (parameters beside it) or name (parameters in options), got both' });
    else if (w.name !== undefined) {
      for (const k of Object.keys(w)) if (k !== 'name' && k !== 'options') ctx.addIssue({ code: 'custom', path: [k], message: 'expected the parameters in options when the workload is given by name, got one beside name' });
    } else if (w.options !== undefined) ctx.addIssue({ code: 'custom', path: ['options'], message: 'expected the parameters beside kind (options go with name: { name, options }), got options' });
  })
  .meta({ description: 'The workload: { kind, ...parameters }, or { name, options } (see docs/scenarios.md).' });
// (a missing workload reads "vms[0].workload: missing; expected object")

export const vmSchema = z
  .object({
    name: str.min(1, { error: 'expected a non-empty name' }).regex(/^[A-Za-z0-9_.-]+$/, { error: 'expected a name of letters, digits, _, . or -' }),
    vcpus: positiveInt,
    count: positiveInt.default(1).meta({ description: 'Copies of this VM, named <name>-1, <name>-2, ...' }),
    placement: policyRef('a vCPU placement').default('pinned').meta({ description: 'pinned (a pCPU of its own per vCPU), shared (vCPUs time-share pcpus), or a plugin\'s name; or { name, options }.' }),
    weight: z.number({ error: 'expected a load weight' }).min(1, { error: 'expected a load weight >= 1 (1024 = nice 0)' }).max(1_000_000, { error: 'expected a load weight <= 1000000' }).default(1024).meta({ description: 'Host scheduler weight of each vCPU thread (1024 = nice 0), honoured by eevdf and cfs.' }),
    pcpus: z.array(nonNegInt, { error: 'expected a list of pCPU numbers' }).nonempty({ error: 'expected at least one pCPU' }).optional(),
    backend: policyRef('an IPI backend').optional().meta({ description: 'Overrides hypervisor.backend for this VM.' }),
    apicMode: z.enum(['xapic', 'x2apic-physical', 'x2apic-cluster']).optional(),
    shorthand: bool.default(false),
    idle: z.enum(['halt', 'poll', 'haltpoll']).default('halt').meta({ description: 'How the guest idles: halt (HLT), poll (idle=poll: spin in guest mode), haltpoll (cpuidle-haltpoll: poll an adaptive window, then HLT, with KVM halt polling off).' }),
    pvSpinlocks: bool
      .default(true)
      .meta({ description: 'Paravirtual qspinlocks (KVM_FEATURE_PV_UNHALT), on in KVM guests by default: a spinlock waiter spins SPIN_THRESHOLD PAUSE iterations, then halts its vCPU until the unlocker kicks it (KVM_HC_KICK_CPU). false models nopvspin or KVM_HINTS_REALTIME. Never used on bare metal or with one vCPU.' }),
    coordination: z.enum(['smp', 'amp']).default('smp'),
    lazyTlb: z.enum(['skip', 'leave']).default('skip').meta({ description: 'How the guest\'s TLB shootdowns treat idle vCPUs in lazy TLB mode: skip (Linux >= 4.19: no IPI unless page tables were freed; the vCPU flushes when it next runs the process) or leave (earlier kernels: the IPI reaches it and it leaves the process\'s address space, so it gets no more until it runs the process again).' }),
    shootdownStrategy: policyRef('a shootdown strategy').default('sync').meta({ description: 'sync, invlpgb, invlpgb-all, batched, or a plugin\'s name; or { name, options }.' }),
    faults: z
      .object({
        dropIpiFence: bool
          .default(false)
          .meta({ description: 'Leave out the fence between a TLB shootdown\'s page-table write and its IPI (Linux\'s weak_wrmsr_fence before an x2APIC ICR write; arm64\'s dsb(ishst) before the SGI): other vCPUs\' page walks find the old PTEs until the initiator\'s shootdown wait ends, so a target can refill its TLB with the old translation after its flush and use it after the shootdown completed (stale-tlb-use trace events, mm.staleTlbUses in the output). Default false, as Linux.' }),
      })
      .strict()
      .optional()
      .meta({ description: 'Faults injected into the guest kernel, to see what the model makes of them (docs/model.md, "Dropping the IPI fence").' }),
    hz: z
      .number({ error: 'expected a tick rate in Hz' })
      .int({ error: 'expected an integer tick rate in Hz' })
      .min(1, { error: 'expected a tick rate in Hz >= 1' })
      .max(10_000, { error: 'expected a tick rate in Hz <= 10000' })
      .default(250)
      .meta({ description: 'The guest kernel\'s tick (CONFIG_HZ; Kconfig default 250, RHEL/Fedora 1000): while a vCPU runs tasks it takes a timer interrupt, a timer exit and a TSC-deadline write exit per tick.' }),
    scheduler: z
      .object({
        policy: policyRef('a guest scheduler policy').default('eevdf').meta({ description: 'The guest\'s fair scheduler: eevdf (Linux >= 6.6) or cfs (<= 6.5), the host\'s code on each vCPU\'s run queue; or a plugin\'s name; or { name, options }.' }),
        slice: duration.optional().meta({ description: 'EEVDF slice (default 0.75 ms x (1 + ilog2(min(vCPUs, 8)))); not with cfs.' }),
        migrationThreshold: duration.optional(),
        balance: bool.optional(),
        balancer: policyRef('a guest load balancer').optional().meta({ description: 'The guest\'s load balancer: push (default: an unpinned waiting task moves to the shortest queue when the wait it saves exceeds migrationThreshold), none (as balance: false), or a plugin\'s name; or { name, options }.' }),
        llcVcpus: positiveInt.optional().meta({ description: 'vCPUs per last-level cache in the guest topology (default: all, one virtual socket): decides which remote wake-ups are queued with an IPI (TTWU_QUEUE).' }),
        ttwuQueue: bool.default(true).meta({ description: 'sched_feat TTWU_QUEUE: remote wake-ups across caches or onto idle vCPUs go through the target\'s wake list with an IPI.' }),
      })
      .strict()
      .superRefine((sched, ctx) => {
        // Two keys saying different things: the run would have to ignore one.
        if (sched.balance === false && sched.balancer !== undefined && policyRefName(sched.balancer) !== 'none') {
          ctx.addIssue({ code: 'custom', path: ['balancer'], message: `expected no balancer with balance: false (which turns balancing off), got ${JSON.stringify(policyRefName(sched.balancer))}` });
        }
      })
      .default({ policy: 'eevdf', ttwuQueue: true }),
    workload: workloadSchema,
  })
  .strict();

export const runSchema = z
  .object({
    duration: duration.default(20_000_000),
    warmup: duration.default(0),
    seed: nonNegInt.default(1),
    replications: positiveInt.default(1),
    slowdownVsAlone: bool.default(false).meta({ description: 'Also run each VM alone (same seed) and report its slowdown.' }),
    slowdownVsBareMetal: bool
      .default(false)
      .meta({ description: 'Also run each VM alone on bare metal (same seed, host, VM spec and workload) and report its slowdown against it: what virtualization costs it.' }),
    maxEvents: z
      .union([positiveInt, z.literal('auto')])
      .default('auto')
      .meta({
        description:
          'Event budget per run: stops with an error instead of running away. "auto" (the default): scaled from the scenario, 20,000 events per vCPU per simulated ms (a few times the busiest example), at least 200,000,000; a number sets it.',
      }),
    maxHeapMb: positiveInt.default(4_096).meta({ description: 'Heap budget per run, MiB.' }),
    metrics: z
      .array(
        str.superRefine((text, ctx) => {
          const p = parseMetric(text);
          if ('error' in p) ctx.addIssue({ code: 'custom', message: p.error });
        }),
        { error: 'expected a list of metrics, e.g. [throughput, p99:shootdown]' },
      )
      .nonempty({ error: 'expected at least one metric (default: [default])' })
      .default(['default'])
      .meta({ description: 'What each VM is judged by, in order (docs/cli.md, "Figures of merit"): default, throughput, STAT:LATENCY (STAT mean, p50, p90, p99, p99.9 or max), exits/s[:REASON], share:CATEGORY; each optionally after VM= to judge only that VM. A VM no metric names keeps default.' }),
  })
  .strict();

/** The scenario file's schema (zod): every key, its default and its message; docs/scenarios.md lists them. */
export const scenarioSchema = z
  .object({
    name: str.optional(),
    description: str.optional(),
    host: hostSchema.default({ preset: 'skylake-2s-80t' }),
    calibration: calibrationSchema.default({ profile: 'kvm-skylake-2018', overrides: {} }),
    hypervisor: hypervisorSchema.default(hypervisorSchema.parse({})),
    vms: z.array(vmSchema, { error: 'expected a list of VMs' }).nonempty({ error: 'expected at least one VM' }),
    run: runSchema.default(runSchema.parse({})),
    plugins: z.array(str, { error: 'expected a list of module paths' }).default([]).meta({ description: 'Plugins, each exporting a ContainerModule: files or package folders (relative to the scenario file), or package names (docs/plugins.md).' }),
  })
  .strict()
  .meta({ title: 'ipilab scenario', description: 'A what-if: a host, a hypervisor, VMs with workloads, and how long to run.' });

/** A checked scenario, defaults filled in. */
export type Scenario = z.output<typeof scenarioSchema>;
/** A scenario as written (before defaults). */
export type ScenarioInput = z.input<typeof scenarioSchema>;
/** One VM of a checked scenario. */
export type VmScenario = Scenario['vms'][number];

/** A VM's workload kind, in either form. */
export function workloadKind(w: VmScenario['workload']): string {
  return w.name ?? w.kind ?? '';
}
