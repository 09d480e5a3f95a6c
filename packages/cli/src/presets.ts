import 'reflect-metadata';
import Table from 'cli-table3';
import { CALIBRATION_PROFILES } from '@ipilab/calibration';
import { composeContainer, type PolicyRegistry } from '@ipilab/di';
import { guestModule, ShootdownStrategyRegistry, WORKLOADS } from '@ipilab/guest';
import { HOST_PRESETS } from '@ipilab/host';
import { hypervisorModule, IpiBackendRegistry } from '@ipilab/hypervisor';
import { ipiNativeModule } from '@ipilab/ipi-native';
import { ipiPostedModule } from '@ipilab/ipi-posted';
import { ipiPvModule } from '@ipilab/ipi-pv';
import { ipiTrapModule } from '@ipilab/ipi-trap';

/** Everything a scenario can name, as a table or JSON. */
export function presetsText(json: boolean): string {
  const c = composeContainer({ run: { seed: 0 }, modules: [hypervisorModule, ipiTrapModule, ipiPvModule, ipiPostedModule, ipiNativeModule, guestModule] });
  const data = {
    hosts: Object.fromEntries(Object.entries(HOST_PRESETS).map(([k, v]) => [k, v.description])),
    calibrationProfiles: Object.fromEntries(Object.entries(CALIBRATION_PROFILES).map(([k, v]) => [k, v.description])),
    backends: c.get<PolicyRegistry<unknown>>(IpiBackendRegistry).names(),
    shootdownStrategies: c.get<PolicyRegistry<unknown>>(ShootdownStrategyRegistry).names(),
    workloads: Object.keys(WORKLOADS),
  };
  if (json) return `${JSON.stringify(data, null, 2)}\n`;
  const t = new Table({ head: ['kind', 'name', 'description'], style: { head: [], border: [] }, colWidths: [22, 22, 80], wordWrap: true });
  for (const [k, v] of Object.entries(data.hosts)) t.push(['host.preset', k, v]);
  for (const [k, v] of Object.entries(data.calibrationProfiles)) t.push(['calibration.profile', k, v]);
  for (const k of data.backends) t.push(['hypervisor.backend', k, k === 'native' ? 'bare metal only: hypervisor.mode bare-metal selects it by itself' : '']);
  for (const k of data.shootdownStrategies) t.push(['shootdownStrategy', k, '']);
  for (const k of data.workloads) t.push(['workload.kind', k, '']);
  return `${t.toString()}\n`;
}
