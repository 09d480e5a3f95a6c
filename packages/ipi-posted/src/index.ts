export { PostedBackend } from './posted-backend';
export { ipiPostedModule } from './ipi-posted-module';
