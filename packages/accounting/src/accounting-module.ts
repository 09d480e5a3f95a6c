import { ContainerModule } from 'inversify';
import { Simulation } from '@ipilab/core';
import { EventSink } from '@ipilab/events';
import { AccountingService } from './accounting-service';

/** Binds the accounting service to the run's event sink and clock. */
export const accountingModule = new ContainerModule(({ bind }) => {
  bind(AccountingService)
    .toDynamicValue((ctx) => new AccountingService(ctx.get(EventSink), ctx.get(Simulation)))
    .inSingletonScope();
});
