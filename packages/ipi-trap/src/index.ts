/**
 * IPI backend `trap`: trap-and-emulate, one VM exit per ICR write.
 *
 * @packageDocumentation
 * @module @ipilab/ipi-trap
 */
export { TrapAndEmulateBackend } from './trap-and-emulate-backend';
export { ipiTrapModule } from './ipi-trap-module';
