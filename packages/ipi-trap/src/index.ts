export { TrapAndEmulateBackend } from './trap-and-emulate-backend';
export { ipiTrapModule } from './ipi-trap-module';
