import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Io } from './commands';
import { UsageError } from './usage-error';

/**
 * `ipilab init-plugin <dir> --family backend|strategy`: a plugin package a user can run and test
 * as written: package.json, index.js (a working example policy), a test with @ipilab/testing's
 * laws on node's own test runner, a scenario using it, and a README. ipilab's packages are not
 * published: the package depends on them through `file:` links to the checkout this ipilab runs
 * from (`npm install --offline` makes them), and on that checkout's inversify and fast-check.
 */

/** The families init-plugin writes an example of. */
export const PLUGIN_FAMILIES = ['backend', 'strategy'] as const;
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

function readme(dirName: string, t: Template): string {
  return `# ${dirName}

An ipilab plugin: ${t.what}. Written by \`ipilab init-plugin\`; docs/plugins.md in the ipilab
checkout explains each part.

\`\`\`sh
npm install --offline   # links ipilab's packages from the checkout (they are not published)
npm test                # the law its family passes, with node's test runner
ipilab run scenario.yaml
ipilab run <scenario> --plugin ${dirName === '.' ? '.' : `path/to/${dirName}`} --set ${t.key}
\`\`\`

The \`file:\` links in package.json point into the ipilab checkout this package was made from;
move that checkout and run \`ipilab init-plugin\` again (or edit the links).

A plugin is code: ipilab runs it with your rights, unsandboxed, like any npm package.
`;
}

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
  const t = (family as Family) === 'backend' ? backend(name) : strategy(name);
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
