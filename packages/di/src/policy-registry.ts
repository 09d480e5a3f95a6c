import type { PolicyOptions } from './policy-options';

/** Undoes a registration. Calling it twice is harmless. */
export interface Disposable {
  /** Undo the registration. */
  dispose(): void;
}

/** Raised when a scenario or a model asks for a policy name nobody registered. */
export class UnknownPolicyError extends Error {
  constructor(
    readonly kind: string,
    readonly requested: string,
    readonly known: readonly string[],
  ) {
    super(`unknown ${kind} ${JSON.stringify(requested)}; known: ${known.length > 0 ? known.map((n) => JSON.stringify(n)).join(', ') : '(none registered)'}`);
    this.name = 'UnknownPolicyError';
  }
}

/** Raised when two modules claim the same policy name: a plugin must not silently replace a built-in. */
export class DuplicatePolicyError extends Error {
  constructor(
    readonly kind: string,
    readonly duplicate: string,
  ) {
    super(`${kind} ${JSON.stringify(duplicate)} is already registered; choose another name or dispose the first registration`);
    this.name = 'DuplicatePolicyError';
  }
}

/**
 * Swappable policies by name — IPI backends, vCPU schedulers, shootdown strategies. Built-ins
 * and plugins register the same way; a scenario picks one by name. Look-ups happen while a
 * model is assembled, never per event.
 */
export class PolicyRegistry<T> {
  private readonly entries = new Map<string, T>();
  private readonly optionsByName = new Map<string, PolicyOptions<T, any>>();
  private defaultName: string | undefined;

  /** `kind` names the policy family in messages, e.g. "IPI backend". */
  constructor(
    readonly kind: string,
    defaultName?: string,
  ) {
    this.defaultName = defaultName;
  }

  /** Adds `name`; with `options`, the `{ name, options }` form is accepted for it (policy-options.ts). */
  register(name: string, policy: T, options?: PolicyOptions<T, any>): Disposable {
    if (typeof name !== 'string' || name.length === 0) {
      throw new TypeError(`${this.kind} name: expected a non-empty string, got ${JSON.stringify(name)}`);
    }
    if (this.entries.has(name)) throw new DuplicatePolicyError(this.kind, name);
    this.entries.set(name, policy);
    if (options !== undefined) this.optionsByName.set(name, options);
    let live = true;
    return {
      dispose: () => {
        if (live && this.entries.get(name) === policy) {
          this.entries.delete(name);
          this.optionsByName.delete(name);
        }
        live = false;
      },
    };
  }

  /** The policy registered as `name`, or the default when `name` is omitted. */
  get(name?: string): T {
    const key = name ?? this.defaultName;
    if (key === undefined) {
      throw new UnknownPolicyError(this.kind, '(no name given and no default set)', this.names());
    }
    const policy = this.entries.get(key);
    if (policy === undefined) throw new UnknownPolicyError(this.kind, key, this.names());
    return policy;
  }

  /** The options `name` takes, or undefined when it takes none. */
  optionsOf(name: string): PolicyOptions<T, any> | undefined {
    return this.optionsByName.get(name);
  }

  /** Whether `name` is registered. */
  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** Registered names, sorted, for messages and `--help`. */
  names(): string[] {
    return [...this.entries.keys()].sort();
  }

  get default(): string | undefined {
    return this.defaultName;
  }

  /** The policy `get()` returns when given no name; it must be registered. */
  setDefault(name: string): void {
    if (!this.entries.has(name)) throw new UnknownPolicyError(this.kind, name, this.names());
    this.defaultName = name;
  }
}
