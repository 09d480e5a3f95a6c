export { PolicyRegistry, UnknownPolicyError, DuplicatePolicyError, type Disposable } from './policy-registry';
export { bindPolicyRegistry, contributePolicy, type PolicyContribution, type PolicyFamily } from './policy-contribution';
export { kernelModule, RunConfig } from './kernel-module';
export { composeContainer, type CompositionOptions } from './composition-root';
