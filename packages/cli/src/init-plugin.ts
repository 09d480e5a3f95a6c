import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Io } from './commands';
import { UsageError } from './usage-error';

/**
 * `ipilab init-plugin <dir> --family backend|strategy|placement|balancer|workload|preset|profile`: a plugin package a user can run and test
 * as written: package.json, index.js (a working example policy), a test with @ipilab/testing's
 * laws on node's own test runner, a scenario using it, and a README. ipilab's packages are not
 * published: the package depends on them through `file:` links to the checkout this ipilab runs
 * from (`npm install --offline` makes them), and on that checkout's inversify and fast-check.
 */

/** The families init-plugin writes an example of. */
export const PLUGIN_FAMILIES = ['backend', 'strategy', 'placement', 'balancer', 'workload', 'preset', 'profile'] as const;
type Family = (typeof PLUGIN_FAMILIES)[number];

export interface InitPluginFlags {
  readonly family?: string;
  readonly name?: string;
}

/** The checkout's packages folder (this file is packages/cli/dist/init-plugin.js, or src/ under jest). */
const PACKAGES = resolve(__dirname, '..', '..');

/** The folder of a third-party package as ipilab's `from` package has it, its links resolved. */
function packageRoot(name: string, from: string): string {
  let d = dirname(require.resolve(name, { paths: [join(PACKAGES, from)] }));
  while (!existsSync(join(d, 'package.json')) || (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { name?: string }).name !== name) {
    const up = dirname(d);
    if (up === d) throw new Error(`cannot find the folder of ${name}`);
    d = up;
  }
  return realpathSync(d);
}

const ipilabLink = (pkg: string): string => `file:${join(PACKAGES, pkg)}`;

interface Template {
  readonly what: string;
  readonly key: string;
  readonly dependencies: Record<string, string>;
  readonly devDependencies: Record<string, string>;
  readonly index: string;
  readonly test: string;
  readonly scenario: string;
}

function backend(name: string): Template {
  return {
    what: `an IPI backend (hypervisor.backend: ${name})`,
    key: `hypervisor.backend=${name}`,
    dependencies: { '@ipilab/di': ipilabLink('di'), '@ipilab/hypervisor': ipilabLink('hypervisor'), inversify: `file:${packageRoot('inversify', 'scenario')}` },
    devDependencies: { '@ipilab/testing': ipilabLink('testing') },
    index: `'use strict';
// An ipilab plugin: an IPI backend named ${JSON.stringify(name)} (\`hypervisor.backend: ${name}\`).
// A backend is made per VM from what it may use (the BackendHost: clock, costs, sink, features,
// exit, deliverAll, deliver, hardwarePost, ipivPost, selfIpi) and what it knows of the VM (the
// BackendVm: apicMode, shorthand, pv, vcpus). Its one job: send(req, done), calling done when
// the sender may go on. This example sends every IPI with one hypercall, as KVM's PV send-IPI
// does: one exit, then the host delivers to each target in turn. Change send() to model yours.

const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { ipiBackends } = require('@ipilab/hypervisor');

class ExampleBackend {
  constructor(host, vm) {
    this.name = ${JSON.stringify(name)};
    this.host = host;
    this.vm = vm;
  }

  send(req, done) {
    const host = this.host;
    if (req.kind === 'self') {
      host.selfIpi(req.sender, req.vector, req.id, done);
      return;
    }
    const c = host.costs;
    host.exit(req.sender, 'hypercall', c.exitRoundTrip + c.hypercallHandling, (reenter) => host.deliverAll(req.sender, req.targets, req.vector, req.id, reenter), done);
  }
}

/** The factory \`hypervisor.backend: ${name}\` picks: one backend per VM. */
const exampleBackend = (host, vm) => new ExampleBackend(host, vm);

module.exports = new ContainerModule((options) => {
  contributePolicy(options, ipiBackends, ${JSON.stringify(name)}, exampleBackend);
});
module.exports.exampleBackend = exampleBackend;
`,
    test: `'use strict';
// npm test: the law every backend passes, on random VMs and sends; a failure prints the seed,
// the path and the shrunk case.
const test = require('node:test');
const { assertDeliveredExactlyOnce, configureProperties } = require('@ipilab/testing');
const { exampleBackend } = require('..');

// A fixed seed (FC_SEED=<seed> replays another), as ipilab's own suite has.
configureProperties();

test('every IPI is delivered exactly once', () => {
  assertDeliveredExactlyOnce(exampleBackend, { numRuns: 50 });
});
`,
    scenario: `# ipilab run scenario.yaml (plugins: below), or ipilab run <any scenario> --plugin . --set hypervisor.backend=${name}
name: ${name}
plugins: [./index.js]
host: { preset: small-1s-8t }
hypervisor: { backend: ${name} }
vms:
  - name: bench
    vcpus: 4
    workload: { kind: ipi-bench, mode: [unicast, broadcast], iterations: 50 }
run: { duration: 5ms, seed: 1 }
`,
  };
}

function strategy(name: string): Template {
  return {
    what: `a TLB shootdown strategy (vms[].shootdownStrategy: ${name})`,
    key: `vms[0].shootdownStrategy=${name}`,
    dependencies: { '@ipilab/di': ipilabLink('di'), '@ipilab/guest': ipilabLink('guest'), inversify: `file:${packageRoot('inversify', 'scenario')}` },
    devDependencies: { '@ipilab/testing': ipilabLink('testing'), '@ipilab/ipi-trap': ipilabLink('ipi-trap'), 'fast-check': `file:${packageRoot('fast-check', 'testing')}` },
    index: `'use strict';
// An ipilab plugin: a TLB shootdown strategy named ${JSON.stringify(name)} (\`vms[].shootdownStrategy: ${name}\`).
// A strategy is one object with flush(ctx, req, done): remove the translations req changed from
// every TLB that may hold them, then call done. ctx (the ShootdownContext) is all it may use:
// costs, clock, timers, the vCPUs and flush targets, the PV TLB flush, cross-calls,
// invalidation and hardware broadcast. This example does what Linux does (the built-in 'sync':
// flush locally, IPI the other vCPUs holding the address space, wait for the last); change
// flush() to model yours.

const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { shootdownStrategies, SynchronousShootdown } = require('@ipilab/guest');

class ExampleShootdown {
  constructor() {
    this.name = ${JSON.stringify(name)};
    this.linux = new SynchronousShootdown();
  }

  flush(ctx, req, done) {
    this.linux.flush(ctx, req, done);
  }
}

module.exports = new ContainerModule((options) => {
  contributePolicy(options, shootdownStrategies, ${JSON.stringify(name)}, new ExampleShootdown());
});
module.exports.ExampleShootdown = ExampleShootdown;
`,
    test: `'use strict';
// npm test: TLB coherence (no vCPU uses a translation after its shootdown completed, none is
// left behind) on random VMs and page-table changes; a failure prints the seed, the path and
// the shrunk case.
const test = require('node:test');
const fc = require('fast-check');
const { checkTlbCoherence, configureProperties, runTlbScenario, tlbScenarioArbitrary } = require('@ipilab/testing');
const { TrapAndEmulateBackend } = require('@ipilab/ipi-trap');
const { ExampleShootdown } = require('..');

// A fixed seed (FC_SEED=<seed> replays another), as ipilab's own suite has.
configureProperties();

const trap = (host, vm) => new TrapAndEmulateBackend(host, vm);

test('no stale translation is used or left behind', () => {
  fc.assert(
    fc.property(tlbScenarioArbitrary, (s) => checkTlbCoherence(runTlbScenario(s, trap, false, new ExampleShootdown()), s.actors.length)),
    { numRuns: 50 },
  );
});
`,
    scenario: `# ipilab run scenario.yaml (plugins: below), or ipilab run <any scenario> --plugin . --set vms[0].shootdownStrategy=${name}
name: ${name}
plugins: [./index.js]
host: { preset: small-1s-8t }
hypervisor: { backend: pv }
vms:
  - name: churn
    vcpus: 4
    shootdownStrategy: ${name}
    workload: { kind: ebizzy, chunkPages: 4, searchNs: 5000 }
run: { duration: 5ms, seed: 1 }
`,
  };
}

/** The scenario a family's example runs in: `extra` is the VM's keys beyond name and vCPUs. */
function exampleScenario(name: string, hint: string, top: string, vm: string): string {
  return `# ipilab run scenario.yaml (plugins: below), or ipilab run <any scenario> --plugin . --set ${hint}
name: ${name}
plugins: [./index.js]
${top}vms:
  - name: example
    vcpus: 4
${vm}run: { duration: 5ms, seed: 1 }
`;
}

const TEST_HEAD = `'use strict';
const test = require('node:test');
`;

function placement(name: string): Template {
  return {
    what: `a vCPU placement (vms[].placement: ${name})`,
    key: `vms[0].placement=${name}`,
    dependencies: { '@ipilab/core': ipilabLink('core'), '@ipilab/di': ipilabLink('di'), '@ipilab/hypervisor': ipilabLink('hypervisor'), inversify: `file:${packageRoot('inversify', 'scenario')}` },
    devDependencies: { '@ipilab/testing': ipilabLink('testing') },
    index: `'use strict';
// An ipilab plugin: a vCPU placement named ${JSON.stringify(name)} (\`vms[].placement: ${name}\`).
// A placement is asked once per VM, while the model is assembled, where each vCPU's thread may
// run: one set of pCPUs per vCPU (its affinity mask). It is told the VM (field, vcpus, the pcpus
// it asked for), the host's topology, and which pCPUs an earlier exclusive VM holds (isTaken).
// This example is exclusive (each vCPU its own pCPU, as the built-in \`pinned\`), but takes the
// free pCPUs from the highest number down. A refusal is an InvalidParameterError naming the VM.

const { ContainerModule } = require('inversify');
const { InvalidParameterError } = require('@ipilab/core');
const { contributePolicy } = require('@ipilab/di');
const { placementPolicies } = require('@ipilab/hypervisor');

const examplePlacement = {
  name: ${JSON.stringify(name)},
  exclusive: true,
  place(req) {
    const pool = req.pcpus ?? req.topology.pcpus.map((p) => p.id);
    const free = [...new Set(pool)].filter((p) => !req.isTaken(p)).sort((a, b) => b - a);
    if (free.length < req.vcpus) throw new InvalidParameterError(\`\${req.field}.vcpus\`, req.vcpus, \`at most \${free.length} vCPUs: only \${free.length} pCPUs are free\`);
    return free.slice(0, req.vcpus).map((p) => [p]);
  },
};

module.exports = new ContainerModule((options) => {
  contributePolicy(options, placementPolicies, ${JSON.stringify(name)}, examplePlacement);
});
module.exports.examplePlacement = examplePlacement;
`,
    test: `${TEST_HEAD}// npm test: the placement laws on random hosts and VMs; a failure prints the seed, path and shrunk case.
const { assertPlacementLaws, configureProperties } = require('@ipilab/testing');
const { examplePlacement } = require('..');

// A fixed seed (FC_SEED=<seed> replays another), as ipilab's own suite has.
configureProperties();

test('keeps the vCPU-placement laws', () => assertPlacementLaws(examplePlacement));
`,
    scenario: exampleScenario(name, `vms[0].placement=${name}`, 'host: { preset: small-1s-8t }\nhypervisor: { backend: pv }\n', `    placement: ${name}\n    workload: { kind: ipi-bench, mode: [broadcast], iterations: 20 }\n`),
  };
}

function balancer(name: string): Template {
  return {
    what: `a guest load balancer (vms[].scheduler.balancer: ${name})`,
    key: `vms[0].scheduler.balancer=${name}`,
    dependencies: { '@ipilab/di': ipilabLink('di'), '@ipilab/guest': ipilabLink('guest'), inversify: `file:${packageRoot('inversify', 'scenario')}` },
    devDependencies: { '@ipilab/ipi-trap': ipilabLink('ipi-trap'), '@ipilab/testing': ipilabLink('testing') },
    index: `'use strict';
// An ipilab plugin: a guest load balancer named ${JSON.stringify(name)} (\`vms[].scheduler.balancer: ${name}\`).
// Each time a task's chunk of CPU time on vCPU \`from\` ends, the guest scheduler asks the
// balancer for at most one move, showing it a read-only view of the run queues (queueLength,
// nrQueued, queuedAt, the slice and migration threshold); it makes the move itself. This runs
// per chunk: allocate nothing unless it moves. This example moves the first unpinned waiting
// task to the shortest queue it may run on, when that queue is at least two tasks shorter.

const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { guestBalancers } = require('@ipilab/guest');

const exampleBalancer = {
  name: ${JSON.stringify(name)},
  balance(view, from) {
    const queued = view.nrQueued(from);
    let task = null;
    for (let i = 0; i < queued && task === null; i++) if (!view.queuedAt(from, i).pinned) task = view.queuedAt(from, i);
    if (task === null) return null;
    let to = -1;
    for (let w = 0; w < view.nrVcpus; w++) {
      if (w !== from && task.allowedOn(w) && (to < 0 || view.queueLength(w) < view.queueLength(to))) to = w;
    }
    return to >= 0 && view.queueLength(from) - view.queueLength(to) >= 2 ? { task, to } : null;
  },
};

module.exports = new ContainerModule((options) => {
  contributePolicy(options, guestBalancers, ${JSON.stringify(name)}, exampleBalancer);
});
module.exports.exampleBalancer = exampleBalancer;
`,
    test: `${TEST_HEAD}// npm test: the guest-balancer laws (its moves, and every task finishing when the guest's
// scheduler runs them); a failure prints the seed, path and shrunk case.
const { assertBalancerLaws, configureProperties } = require('@ipilab/testing');
const { TrapAndEmulateBackend } = require('@ipilab/ipi-trap');
const { exampleBalancer } = require('..');

// A fixed seed (FC_SEED=<seed> replays another), as ipilab's own suite has.
configureProperties();

test('keeps the guest-balancer laws', () => assertBalancerLaws(exampleBalancer, { backend: (host, vm) => new TrapAndEmulateBackend(host, vm) }));
`,
    scenario: exampleScenario(name, `vms[0].scheduler.balancer=${name}`, 'host: { preset: small-1s-8t }\nhypervisor: { backend: trap }\n', `    scheduler: { balancer: ${name} }\n    workload: { kind: compute, tasks: 8, startOn: 0 }\n`),
  };
}

function workload(name: string): Template {
  return {
    what: `a workload (vms[].workload: { kind: ${name} })`,
    key: `vms[0].workload={kind: ${name}}`,
    dependencies: { '@ipilab/di': ipilabLink('di'), '@ipilab/guest': ipilabLink('guest'), inversify: `file:${packageRoot('inversify', 'scenario')}`, zod: `file:${packageRoot('zod', 'guest')}` },
    devDependencies: { '@ipilab/ipi-trap': ipilabLink('ipi-trap'), '@ipilab/testing': ipilabLink('testing') },
    index: `'use strict';
// An ipilab plugin: a workload kind named ${JSON.stringify(name)} (\`vms[].workload: { kind: ${name} }\`).
// A workload kind has a parameter schema (strict: a misspelt parameter is refused) and
// create(ctx, params), which builds one VM's workload. ctx (WorkloadContext) is what it may use:
// the clock and timers, costs, the VM's vCPUs, its own random stream, and the parts of the guest
// kernel (crossCall), memory manager (mm) and scheduler (sched: spawn, wake) a workload needs.
// This example: one task per vCPU computing units of work; every \`callEvery\` units a task
// interrupts every other vCPU with a cross-call (as a TLB flush of the whole process would).

const { ContainerModule } = require('inversify');
const { z } = require('zod');
const { contributePolicy } = require('@ipilab/di');
const { workloadKinds, compute, op, cpuNs } = require('@ipilab/guest');

const params = z.object({ unitNs: z.number().positive().default(10000), callEvery: z.number().int().min(1).default(20) }).strict();

function create(ctx, raw) {
  const p = params.parse(raw);
  const unit = compute(cpuNs(ctx, p.unitNs));
  let units = 0;
  return {
    kind: ${JSON.stringify(name)},
    primary: { key: 'unitsPerSecond', higherIsBetter: true },
    figures: { throughput: 'unitsPerSecond' },
    start() {
      ctx.vcpus.forEach((_, i) => {
        ctx.sched.spawn(\`worker-\${i}\`, function* () {
          const call = op((v, resume) => ctx.kernel.crossCall(v, ctx.vcpus.filter((o) => o !== v), () => resume()));
          for (let n = 1; ; n++) {
            yield unit;
            units++;
            if (n % p.callEvery === 0 && ctx.vcpus.length > 1) yield call;
          }
        }, { vcpu: i });
      });
    },
    resetStats() {
      units = 0;
    },
    result(elapsedNs) {
      return { units, unitsPerSecond: elapsedNs > 0 ? (units * 1e9) / elapsedNs : 0 };
    },
  };
}

const exampleWorkload = { params, create };

module.exports = new ContainerModule((options) => {
  contributePolicy(options, workloadKinds, ${JSON.stringify(name)}, exampleWorkload);
});
module.exports.exampleWorkload = exampleWorkload;
`,
    test: `${TEST_HEAD}// npm test: the workload laws (no wall clock or Math.random, its figures present, coherent
// TLBs, the same result twice) on random VMs and seeds; a failure prints the seed, path and shrunk case.
const { assertWorkloadLaws, configureProperties } = require('@ipilab/testing');
const { TrapAndEmulateBackend } = require('@ipilab/ipi-trap');
const { exampleWorkload } = require('..');

// A fixed seed (FC_SEED=<seed> replays another), as ipilab's own suite has.
configureProperties();

test('keeps the workload laws', () => assertWorkloadLaws({ name: ${JSON.stringify(name)}, policy: exampleWorkload }, { backend: (host, vm) => new TrapAndEmulateBackend(host, vm) }));
`,
    scenario: exampleScenario(name, `'vms[0].workload={kind: ${name}}'`, 'host: { preset: small-1s-8t }\nhypervisor: { backend: pv }\n', `    workload: { kind: ${name}, callEvery: 10 }\n`),
  };
}

function preset(name: string): Template {
  return {
    what: `a host preset (host.preset: ${name})`,
    key: `host.preset=${name}`,
    dependencies: { '@ipilab/di': ipilabLink('di'), '@ipilab/host': ipilabLink('host'), inversify: `file:${packageRoot('inversify', 'scenario')}` },
    devDependencies: { '@ipilab/testing': ipilabLink('testing') },
    index: `'use strict';
// An ipilab plugin: a host preset named ${JSON.stringify(name)} (\`host.preset: ${name}\`). A preset is
// data: sockets, cores per socket, SMT threads per core, the clock in GHz, and a one-line
// description (\`ipilab presets\` shows it). The scenario's own host keys override it.
// THE SHAPE BELOW IS AN EXAMPLE: put your machine's here (lscpu: Socket(s), Core(s) per socket,
// Thread(s) per core, CPU max MHz / 1000).

const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { hostPresets } = require('@ipilab/host');

const examplePreset = {
  name: ${JSON.stringify(name)},
  description: 'An example host: 1 socket x 16 cores x 2 threads at 2.9 GHz (replace with your machine)',
  sockets: 1,
  coresPerSocket: 16,
  threadsPerCore: 2,
  ghz: 2.9,
};

module.exports = new ContainerModule((options) => {
  contributePolicy(options, hostPresets, ${JSON.stringify(name)}, examplePreset);
});
module.exports.examplePreset = examplePreset;
`,
    test: `${TEST_HEAD}// npm test: the host-preset law (a host ipilab can build, within 288 CPUs, APIC IDs distinct).
const { assertHostPresetLaws } = require('@ipilab/testing');
const { examplePreset } = require('..');

test('keeps the host-preset law', () => assertHostPresetLaws(examplePreset));
`,
    scenario: exampleScenario(name, `host.preset=${name}`, `host: { preset: ${name} }\nhypervisor: { backend: pv }\n`, '    workload: { kind: ipi-bench, mode: [broadcast], iterations: 20 }\n'),
  };
}

function profile(name: string): Template {
  return {
    what: `a calibration profile (calibration.profile: ${name})`,
    key: `calibration.profile=${name}`,
    dependencies: { '@ipilab/calibration': ipilabLink('calibration'), '@ipilab/di': ipilabLink('di'), inversify: `file:${packageRoot('inversify', 'scenario')}` },
    devDependencies: { '@ipilab/testing': ipilabLink('testing') },
    index: `'use strict';
// An ipilab plugin: a calibration profile named ${JSON.stringify(name)} (\`calibration.profile: ${name}\`).
// A profile is data: the measured machine's clock, vendor and posted-interrupt flavour, and every
// per-operation cost with its value, unit and source (an estimate says how it was made). This
// example starts from the built-in kvm-skylake-2018 and replaces one figure.
// THE FIGURE BELOW IS AN EXAMPLE, NOT A MEASUREMENT: replace it with yours and name your run.

const { ContainerModule } = require('inversify');
const { contributePolicy } = require('@ipilab/di');
const { calibrationProfiles, KVM_SKYLAKE_2018 } = require('@ipilab/calibration');

const exampleProfile = {
  ...KVM_SKYLAKE_2018,
  name: ${JSON.stringify(name)},
  description: 'kvm-skylake-2018 with one figure of my own (an example)',
  costs: {
    ...KVM_SKYLAKE_2018.costs,
    exitRoundTrip: { value: 1300, unit: 'cycles', source: 'example: kvm-unit-tests x86/vmexit.flat, vmcall, on my host', estimate: 'an example figure, not a measurement' },
  },
};

module.exports = new ContainerModule((options) => {
  contributePolicy(options, calibrationProfiles, ${JSON.stringify(name)}, exampleProfile);
});
module.exports.exampleProfile = exampleProfile;
`,
    test: `${TEST_HEAD}// npm test: the calibration-profile law (every figure with a value, unit and source; ordered by distance).
const { assertCalibrationProfileLaws } = require('@ipilab/testing');
const { exampleProfile } = require('..');

test('keeps the calibration-profile law', () => assertCalibrationProfileLaws(exampleProfile));
`,
    scenario: exampleScenario(name, `calibration.profile=${name}`, `host: { preset: small-1s-8t }\ncalibration: { profile: ${name} }\nhypervisor: { backend: trap }\n`, '    workload: { kind: ipi-bench, mode: [unicast], iterations: 20 }\n'),
  };
}

function readme(dirName: string, t: Template): string {
  return `# ${dirName}

An ipilab plugin: ${t.what}. Written by \`ipilab init-plugin\`; docs/plugins.md in the ipilab
checkout explains each part.

\`\`\`sh
npm install --offline   # links ipilab's packages from the checkout (they are not published)
npm test                # the law its family passes, with node's test runner
ipilab run scenario.yaml
ipilab run <scenario> --plugin ${dirName === '.' ? '.' : `path/to/${dirName}`} --set '${t.key}'
\`\`\`

The \`file:\` links in package.json point into the ipilab checkout this package was made from;
move that checkout and run \`ipilab init-plugin\` again (or edit the links).

A plugin is code: ipilab runs it with your rights, unsandboxed, like any npm package.
`;
}

/** Each family's example. */
const TEMPLATES: Readonly<Record<Family, (name: string) => Template>> = { backend, strategy, placement, balancer, workload, preset, profile };

/** `ipilab init-plugin`: writes the package, prints what it wrote and what to run. */
export function initPluginCommand(dir: string, o: InitPluginFlags, io: Io): void {
  const family = o.family ?? 'backend';
  if (!(PLUGIN_FAMILIES as readonly string[]).includes(family)) throw new UsageError(`--family: expected one of ${PLUGIN_FAMILIES.join(', ')}, got ${JSON.stringify(family)}`);
  const target = resolve(dir);
  if (existsSync(target) && (!statSync(target).isDirectory() || readdirSync(target).length > 0))
    throw new UsageError(`${dir}: ${statSync(target).isDirectory() ? 'is not empty' : 'is a file'}; expected a new or empty folder for the plugin`);
  const base = basename(target);
  const name = o.name ?? (base.replace(/[^a-z0-9-]/gi, '-').toLowerCase().replace(/^-+|-+$/g, '') || 'mine');
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) throw new UsageError(`--name: expected lowercase letters, digits and dashes, got ${JSON.stringify(name)}`);
  const t = TEMPLATES[family as Family](name);
  const pkg = {
    name: `ipilab-plugin-${name}`,
    version: '0.1.0',
    private: true,
    description: `An ipilab plugin: ${t.what}.`,
    main: 'index.js',
    scripts: { test: 'node --test test/' },
    dependencies: t.dependencies,
    devDependencies: t.devDependencies,
  };
  const files: [string, string][] = [
    ['package.json', `${JSON.stringify(pkg, null, 2)}\n`],
    ['index.js', t.index],
    [join('test', 'plugin.test.js'), t.test],
    ['scenario.yaml', t.scenario],
    ['README.md', readme(base, t)],
  ];
  try {
    mkdirSync(join(target, 'test'), { recursive: true });
    for (const [f, text] of files) writeFileSync(join(target, f), text, { flag: 'wx' });
  } catch (e) {
    throw new UsageError(`${dir}: could not write the plugin: ${(e as Error).message}`);
  }
  io.out(`wrote ${t.what} to ${dir}: ${files.map(([f]) => f).join(', ')}\nnext: cd ${dir} && npm install --offline && npm test && ipilab run scenario.yaml\n`);
}
