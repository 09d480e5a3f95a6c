/**
 * IPI backend `pv`: KVM paravirtual send-IPI (128-ID bitmap per hypercall), PV TLB flush and sched yield.
 *
 * @packageDocumentation
 * @module @ipilab/ipi-pv
 */
export { ParavirtualBackend, bitmapWindows, PV_IPI_WINDOW } from './paravirtual-backend';
export { ipiPvModule } from './ipi-pv-module';
