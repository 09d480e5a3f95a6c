import { ContainerModule } from 'inversify';

/**
 * The guest package's module. The guest kernel is built per VM by the composition root (it
 * needs the VM), so there is nothing to bind yet; the shootdown-strategy registry lands here.
 */
export const guestModule = new ContainerModule(() => undefined);
