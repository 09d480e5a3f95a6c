/**
 * IPI backend `posted`: hardware IPI virtualization (IPIv / AVIC) for unicast; the rest emulated.
 *
 * @packageDocumentation
 * @module @ipilab/ipi-posted
 */
export { PostedBackend } from './posted-backend';
export { ipiPostedModule } from './ipi-posted-module';
