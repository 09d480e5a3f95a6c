/**
 * IPI backend `native`: bare-metal IPIs (hypervisor.mode: bare-metal), one native ICR write per write the APIC mode needs, no exit.
 *
 * @packageDocumentation
 * @module @ipilab/ipi-native
 */
export { NativeBackend } from './native-backend';
export { ipiNativeModule } from './ipi-native-module';
