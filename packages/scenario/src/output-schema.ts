import { z } from 'zod';
import { provenanceSchema } from './provenance';

const stat = z.number().nullable();
const latency = z
  .object({ count: z.number(), mean: stat, p50: stat, p90: stat, p99: stat, p999: stat.meta({ description: '99.9th percentile' }), max: stat })
  .strict()
  .meta({ description: 'ns; nearest-rank percentiles; null statistics when nothing was recorded.' });
/** A picked figure (run.metrics): the fields MetricValue has. */
export const metricValueSchema = z
  .object({
    metric: z.string().meta({ description: 'The metric as given, without its VM: default, throughput, p99:shootdown, exits/s, share:guest, ...' }),
    figure: z.string().meta({ description: "Its name in tables and charts: the workload's key for default, the metric otherwise." }),
    key: z.string().meta({ description: "Where in this VM's output it is read: workload.recordsPerSecond, ipi.latency.shootdown.p99, ipi.exits, ledger.guest, ..." }),
    unit: z.string().meta({ description: '/s, ns, s, % or empty.' }),
    higherIsBetter: z.boolean(),
    value: z.number().nullable(),
    incomplete: z.literal(true).optional().meta({ description: 'The run did not produce it (value null): an unfinished workload, a latency with no sample.' }),
    slowdownVsAlone: z.number().nullable().optional(),
    slowdownVsBareMetal: z.number().nullable().optional(),
  })
  .strict();
const counts = z.record(z.string(), z.number());
const lockStats = z
  .object({
    acquisitions: z.number(),
    contended: z.number(),
    waitNs: z.number(),
    sleeps: z.number(),
    lineTransfers: z.number(),
    pvWaits: z.number(),
    pvKicks: z.number(),
  })
  .strict()
  .meta({ description: 'acquisitions granted; contended: those that waited; waitNs: ns from asking to getting it, summed; sleeps: waits that blocked the task (rwsem only); lineTransfers: atomics that pulled the lock word\'s cache line from another vCPU; pvWaits: paravirtual-spinlock waiters that halted their vCPU after SPIN_THRESHOLD (kvm_wait); pvKicks: KVM_HC_KICK_CPU hypercalls by unlockers waking them (spinlocks only; 0 for mmap_lock).' });

/** The shape of `ipilab run --json` (documented in docs/cli.md; JSON Schema in docs/run-output.schema.json). */
export const runOutputSchema = z
  .object({
    scenario: z.string(),
    seed: z.number().int(),
    simulatedNs: z.number(),
    events: z.number().int(),
    vms: z.record(
      z.string().meta({ description: 'VM name; copies of a VM are <name>-1, <name>-2, ...' }),
      z
        .object({
          workload: z.record(z.string(), z.unknown()).meta({
            description:
              'The workload\'s figures. ipi-bench: modes.<mode>.{ops, sendToHandlerNs, totalNs} with count/mean/p50/p90/p99/p999/max in ns; ebizzy: recordsPerSecond; hackbench: seconds, messagesPerSecond; fork-cow: forksPerSecond; huge-split: splitsPerSecond, touchesPerSecond; irq-pipeline: eventsPerSecond, latency*Ns, latencyNs (a latency summary); compute: progressPerSecond; will-it-scale: opsPerSecond, opsPerSecondPerThread.',
          }),
          ledger: z
            .object({
              vcpus: z.number(),
              guest: z.number(),
              handlingInterrupts: z.number(),
              shootdownWait: z.number(),
              exits: counts,
              serviceQueued: z.number(),
              hostOther: z.number(),
              halted: z.number(),
              preempted: z.number(),
              offline: z.number(),
              total: z.number(),
            })
            .strict()
            .meta({ description: 'ns summed over the VM\'s vCPUs; the categories add up to total (vcpus x run length).' }),
          ipi: z
            .object({
              sent: counts.meta({ description: 'IPIs sent, by kind: unicast, multicast, broadcast, self.' }),
              exits: counts.meta({ description: 'VM exits taken, by reason.' }),
              hypercalls: z.number(),
              shootdowns: z.number(),
              latency: z.union([z.object({ ipiSendToHandler: latency, wholeCall: latency, shootdown: latency }).strict(), z.null()]),
            })
            .strict(),
          primary: z.object({ key: z.string(), value: z.number().nullable(), higherIsBetter: z.boolean(), incomplete: z.literal(true).optional() }).strict().meta({ description: 'The figure of merit (null, with incomplete: true, if the workload did not produce it, e.g. hackbench unfinished or an ipi-bench with no complete sample).' }),
          metrics: z.array(metricValueSchema).meta({ description: 'The figures the VM is judged by (run.metrics, --metric), in order; [default] (the primary figure) unless picked.' }),
          slowdownVsAlone: z.number().nullable().optional().meta({ description: 'With run.slowdownVsAlone: the figure alone over beside the others (rates), or the inverse (times).' }),
          slowdownVsBareMetal: z
            .number()
            .nullable()
            .optional()
            .meta({ description: 'With run.slowdownVsBareMetal: the figure of the same VM alone on bare metal over this run\'s (rates), or the inverse (times); > 1 is what virtualization (and any neighbours) cost it.' }),
          mm: z
            .object({
              mmapLock: lockStats.meta({ description: 'mmap_lock (a reader-writer semaphore per address space), all of the VM\'s address spaces together.' }),
              ptl: lockStats.meta({ description: 'split page-table locks (one spinlock per page-table page).' }),
              lru: lockStats.meta({ description: 'the LRU lock (one spinlock per VM).' }),
              invlpgb: z
                .object({ sequences: z.number(), queued: z.number(), waitNs: z.number() })
                .strict()
                .meta({ description: 'INVLPGB+TLBSYNC sequences the VM ran, how many waited for one of the host\'s outstanding-broadcast slots, and the ns they waited.' }),
              globalAsids: z.number().meta({ description: 'address spaces given a global ASID (broadcast flushes under the invlpgb strategy).' }),
              lazyTlb: z
                .object({ skipped: z.number(), left: z.number(), catchUpFlushes: z.number() })
                .strict()
                .meta({ description: 'lazy TLB mode (vms[].lazyTlb): shootdown targets skipped because they were idle with the process loaded, idle vCPUs that left the process on a flush IPI (leave), and whole-process flushes when a skipped vCPU ran the process again.' }),
              staleTlbUses: z.number().optional().meta({ description: 'Only with vms[].faults.dropIpiFence: TLB hits on translations a completed shootdown should have removed (each a stale-tlb-use trace event).' }),
            })
            .strict()
            .meta({ description: 'Contention in the guest memory manager (docs/model.md, "Memory-manager contention"), over the measured part of the run.' }),
          ranOn: z
            .object({ pcpuNs: z.record(z.string(), z.number()), socketNs: z.record(z.string(), z.number()) })
            .strict()
            .meta({ description: 'Where the VM\'s vCPU threads ran: ns they held each pCPU (switch-in included) and each socket; pCPUs never held are left out.' }),
        })
        .strict(),
    ),
    interference: z
      .object({
        vms: z.array(z.string()),
        behindNs: z.record(z.string(), z.record(z.string(), z.number())).meta({ description: 'victim -> culprit -> ns the victim waited behind the culprit\'s work.' }),
        switchingNs: z.record(z.string(), z.number()),
        waitedNs: z.record(z.string(), z.number()),
      })
      .strict(),
    meta: provenanceSchema.optional().meta({ description: 'What made this output: ipilab version and commit, Node, OS, the scenario as run and its hash, overrides, seeds, times. Added by the CLI; ipilab rerun reads it.' }),
  })
  .strict()
  .meta({ title: 'ipilab run --json output' });

/** JSON has no NaN: the run's NaN figures (nothing measured) print as null. */
export function toJsonValue<T>(value: T): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && Number.isNaN(v) ? null : v)));
}

/** The JSON Schema of `ipilab run --json` (docs/run-output.schema.json is written from it). */
export function runOutputJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(runOutputSchema, { unrepresentable: 'any' }) as Record<string, unknown>;
}
