/**
 * Dependency-injection conventions: named-policy registries, the kernel's container bindings, and the composition root.
 *
 * @packageDocumentation
 * @module @ipilab/di
 */
export { PolicyRegistry, UnknownPolicyError, DuplicatePolicyError, type Disposable } from './policy-registry';
export { bindPolicyRegistry, contributePolicy, type PolicyContribution, type PolicyFamily } from './policy-contribution';
export { kernelModule, RunConfig } from './kernel-module';
export { composeContainer, type CompositionOptions } from './composition-root';
export { policyRefName, policyRefOptions, type PolicyOptions, type OptionsSchema, type OptionsParse, type OptionsIssue, type PolicyRef } from './policy-options';
