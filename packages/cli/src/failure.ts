import { UsageError } from './usage-error';

/**
 * Exit codes: 0 success, 1 the run failed, 2 usage or scenario error, 3 the run succeeded but an
 * output file could not be written (the results went to stdout instead).
 */
export const EXIT = { ok: 0, runError: 1, usage: 2, notWritten: 3 } as const;

type ScenarioErrors = Pick<typeof import('@ipilab/scenario'), 'ScenarioError' | 'PluginError' | 'printable'>;

/**
 * The scenario package's error classes. It loads the model, zod and YAML, so it is required only
 * here, once a command failed (and only a command that loaded it can have thrown its errors);
 * undefined when it cannot be loaded at all, which makes the error an internal one.
 */
function scenarioErrors(): ScenarioErrors | undefined {
  try {
    return require('@ipilab/scenario') as ScenarioErrors;
  } catch {
    return undefined;
  }
}

/**
 * Reports a command's failure on stderr and returns its exit code. Whose fault it is decides
 * the form: the user's input (a ScenarioError, or a UsageError about the command line) is one
 * line per problem, `where: key: message`, exit 2; a plugin's code (PluginError) one line naming
 * the plugin, exit 1; what a fault the scenario injected into the guest broke (InjectedFaultError)
 * one line saying so, exit 1; anything else is a fault of the model itself, exit 1 with "internal error"
 * and its stack only under --debug (or IPILAB_DEBUG=1).
 */
export function reportFailure(e: unknown, debug: boolean, write: (s: string) => void = (s) => void process.stderr.write(s)): number {
  if (e instanceof UsageError) {
    write(`ipilab: ${e.message}\n`);
    return EXIT.usage;
  }
  const s = scenarioErrors();
  if (s !== undefined && e instanceof s.ScenarioError) {
    if (e.problems.length > 0) for (const line of e.problems) write(`${line}\n`);
    // One line, whatever file name or argument it quotes (its problems are made so already).
    else write(`ipilab: ${s.printable(e.message)}\n`);
    return EXIT.usage;
  }
  if (s !== undefined && e instanceof s.PluginError) {
    write(`ipilab: ${e.message}\n`);
    if (debug && e.cause instanceof Error) write(`${safely(() => (e.cause as Error).stack)}\n`);
    return EXIT.runError;
  }
  const g = guestErrors();
  if (g !== undefined && e instanceof g.InjectedFaultError) {
    // The scenario asked for a broken guest (vms[].faults) and the run found what that breaks.
    write(`ipilab: the run stopped on what an injected fault broke: ${firstLine(safely(() => e.message))}\n`);
    if (debug) write(`${safely(() => e.stack)}\n`);
    return EXIT.runError;
  }
  const message = e instanceof Error ? firstLine(safely(() => e.message)) : `${thrownText(e)} was thrown, not an Error`;
  write(`ipilab: internal error: ${message}${debug ? '' : ' (--debug shows where)'}\n`);
  if (debug) write(`${e instanceof Error ? safely(() => e.stack) : thrownText(e)}\n`);
  return EXIT.runError;
}

/** The guest's error classes, required as the scenario package's are: only once a command failed. */
function guestErrors(): Pick<typeof import('@ipilab/guest'), 'InjectedFaultError'> | undefined {
  try {
    return require('@ipilab/guest') as Pick<typeof import('@ipilab/guest'), 'InjectedFaultError'>;
  } catch {
    return undefined;
  }
}

/** A getter of a thrown value, which may itself throw or not be a string: the handler must not fail. */
function safely(get: () => unknown): string {
  try {
    const v = get();
    return typeof v === 'string' ? v : thrownText(v);
  } catch {
    return '(unreadable)';
  }
}

const firstLine = (s: string): string => s.split('\n')[0]!;

/** Any thrown value in words, without calling its own code (`String(Object.create(null))` throws). */
export function thrownText(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 200 ? `${v.slice(0, 200)}…` : v);
  if (v === null || v === undefined || typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (typeof v === 'symbol') return 'a symbol';
  if (typeof v === 'function') return 'a function';
  return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
}

/** --debug anywhere before a lone `--`, or IPILAB_DEBUG=1. */
export function debugWanted(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--debug') || env['IPILAB_DEBUG'] === '1';
}
