import 'reflect-metadata';
import Table from 'cli-table3';
import { loadPlugin, policyListings, type LoadedPlugin } from '@ipilab/scenario';
import { UsageError } from './usage-error';

/** The modules of `--plugin` arguments (found from `cwd`); a plugin that cannot be loaded is a usage error naming it. */
type PluginModule = Extract<LoadedPlugin, { readonly module: unknown }>['module'];

function pluginModules(specs: readonly string[], cwd: string): PluginModule[] {
  return specs.map((spec) => {
    const p = loadPlugin(spec, cwd);
    if ('problem' in p) throw new UsageError(`--plugin: ${p.problem}`);
    return p.module;
  });
}

/**
 * Everything a scenario can name — every policy family's registered names, the built-ins' and
 * those of the `--plugin` arguments — as a table or JSON.
 */
export function presetsText(json: boolean, plugins: readonly string[] = [], cwd: string = process.cwd()): string {
  const modules = pluginModules(plugins, cwd);
  let listings: ReturnType<typeof policyListings>;
  try {
    listings = policyListings(modules);
  } catch (e) {
    // A plugin that registers a name already taken, or throws while its module loads: the first
    // --plugin whose addition fails is the one named.
    if (modules.length === 0 || !(e instanceof Error)) throw e;
    let culprit = plugins.length - 1;
    for (let k = 1; k < modules.length; k++) {
      try {
        policyListings(modules.slice(0, k));
      } catch {
        culprit = k - 1;
        break;
      }
    }
    throw new UsageError(`--plugin ${plugins[culprit]}: ${e.message.split('\n')[0]}`);
  }
  if (json) {
    // hosts and calibration profiles by name with their descriptions; every other family as a list of names.
    const data: Record<string, unknown> = {};
    for (const l of listings) {
      if (l.listing === 'hosts' || l.listing === 'calibrationProfiles') data[l.listing] = { ...(data[l.listing] as object | undefined), [l.name]: l.description ?? '' };
      else data[l.listing] = [...((data[l.listing] as string[] | undefined) ?? []), l.name];
    }
    return `${JSON.stringify(data, null, 2)}\n`;
  }
  const t = new Table({ head: ['key', 'name', 'description'], style: { head: [], border: [] }, colWidths: [30, 22, 72], wordWrap: true });
  for (const l of listings) {
    const notes = [l.description ?? '', l.key === 'hypervisor.backend' && l.name === 'native' ? 'bare metal only: hypervisor.mode bare-metal selects it by itself' : '', l.options === undefined ? '' : `options: ${l.options.join(', ')}`];
    t.push([l.key, l.name, notes.filter((n) => n !== '').join('; ')]);
  }
  return `${t.toString()}\n`;
}
