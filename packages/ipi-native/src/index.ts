export { NativeBackend } from './native-backend';
export { ipiNativeModule } from './ipi-native-module';
