import { HOST_PRESETS, HostTopology } from '@ipilab/host';
import type { Scenario } from '@ipilab/scenario';

/**
 * The host a validated scenario runs on — its preset with the explicit fields over it, as the
 * run builds it — so the HTML report can group pCPUs by socket (the run output does not say
 * which pCPU is on which socket). The report checks it against each VM's ns by socket, so a
 * host that differed from the run's would be refused, not drawn.
 */
export function scenarioHost(s: Scenario): HostTopology {
  const h = s.host;
  const base = h.preset !== undefined && Object.hasOwn(HOST_PRESETS, h.preset) ? HOST_PRESETS[h.preset] : undefined;
  const pick = (k: 'sockets' | 'coresPerSocket' | 'threadsPerCore' | 'ghz'): number => (h[k] ?? base?.[k])!;
  return new HostTopology({ name: h.preset ?? 'custom', sockets: pick('sockets'), coresPerSocket: pick('coresPerSocket'), threadsPerCore: pick('threadsPerCore'), ghz: pick('ghz') });
}
