import 'reflect-metadata';
import Table from 'cli-table3';
import { policyListings } from '@ipilab/scenario';

/** Everything a scenario can name — every policy family's registered names — as a table or JSON. */
export function presetsText(json: boolean): string {
  const listings = policyListings();
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
