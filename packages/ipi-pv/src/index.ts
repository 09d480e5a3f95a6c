export { ParavirtualBackend, bitmapWindows, PV_IPI_WINDOW } from './paravirtual-backend';
export { ipiPvModule } from './ipi-pv-module';
