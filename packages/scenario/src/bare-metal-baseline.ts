import type { LoadedScenario } from './load';
import type { Scenario } from './schema';

/**
 * The native baseline of one VM of a scenario (`run.slowdownVsBareMetal`): the same host,
 * calibration, plugins, seed and VM spec — workload, vCPUs, APIC mode, shootdown strategy —
 * alone and with no hypervisor (`hypervisor.mode: bare-metal`). It keeps the VM's run name (a
 * copy's `<name>-<k>`), so its workload draws the same random numbers as in the scenario run.
 * Its vCPUs become pCPUs: the VM's own `pcpus` when they give one per vCPU, else the host's
 * first ones — an overcommitted VM is compared with its workload on as many CPUs as it has
 * vCPUs. Returns undefined when no VM of the scenario runs under that name.
 */
export function bareMetalBaseline(loaded: LoadedScenario, vmName: string): LoadedScenario | undefined {
  const s = loaded.scenario;
  for (const spec of s.vms) {
    for (let copy = 1; copy <= spec.count; copy++) {
      if ((spec.count === 1 ? spec.name : `${spec.name}-${copy}`) !== vmName) continue;
      const { pcpus, ...rest } = spec;
      const enough = pcpus !== undefined && new Set(pcpus).size >= spec.vcpus;
      const scenario: Scenario = {
        ...s,
        hypervisor: { ...s.hypervisor, mode: 'bare-metal' },
        vms: [{ ...rest, name: vmName, count: 1, placement: 'pinned', ...(enough ? { pcpus } : {}) }],
        run: { ...s.run, slowdownVsAlone: false, slowdownVsBareMetal: false },
      };
      return { ...loaded, scenario };
    }
  }
  return undefined;
}
