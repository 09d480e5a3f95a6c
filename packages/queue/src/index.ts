/**
 * Sweeps spread over machines: a sweep's runs as jobs in a BullMQ queue on Redis
 * (`ipilab sweep --queue redis://...`), and the workers that take them on any machine
 * (`ipilab worker --queue redis://...`). docs/scale-out.md.
 * @packageDocumentation
 */
export { parseQueueUrl, connectQueue, watchConnection, masked, redisOptions, QueueUsageError, CONNECT_TIMEOUT_MS, type QueueUrl } from './url';
export { QueueExecutor, KEEP_SECONDS, sleep, type QueueExecutorOptions, type QueuedSweep } from './coordinator';
export { runQueueWorker, MAX_STALLED, type QueueWorkerOptions } from './worker';
export { packPlugin, packFiles, unpackFiles, unpackedBundle, localScenario, cacheDir, packageOf, MAX_PLUGIN_BYTES, MAX_PLUGIN_FILES, type PluginBundle, type PackedPlugin } from './plugins';
export { PROTOCOL, PREFIX, REGISTRY, sweepKey, refusalsKey, pluginKey, jobId, queueName, sameIpilab, versionShown, type IpilabVersion, type PluginRef, type QueuedRun, type RunReturn } from './protocol';
export { LocalRedis, freePort, redisServerMissing, REDIS_SERVER } from './local-redis';
export { sweepStatuses, dropSweep, type SweepStatus } from './status';
