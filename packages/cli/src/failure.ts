import { PluginError, ScenarioError } from '@ipilab/scenario';

/** Exit codes: 0 success, 1 the run failed, 2 usage or scenario error. */
export const EXIT = { ok: 0, runError: 1, usage: 2 } as const;

/**
 * Reports a command's failure on stderr and returns its exit code. Whose fault it is decides
 * the form: the user's input (a ScenarioError) is one line per problem, `where: key: message`,
 * exit 2; a plugin's code (PluginError) one line naming the plugin, exit 1; anything else is a
 * fault of the model itself, exit 1 with "internal error" and its stack only under --debug (or
 * IPILAB_DEBUG=1).
 */
export function reportFailure(e: unknown, debug: boolean, write: (s: string) => void = (s) => void process.stderr.write(s)): number {
  if (e instanceof ScenarioError) {
    if (e.problems.length > 0) for (const line of e.problems) write(`${line}\n`);
    else write(`ipilab: ${e.message}\n`);
    return EXIT.usage;
  }
  if (e instanceof PluginError) {
    write(`ipilab: ${e.message}\n`);
    if (debug && e.cause instanceof Error) write(`${e.cause.stack}\n`);
    return EXIT.runError;
  }
  const message = e instanceof Error ? e.message.split('\n')[0]! : String(e);
  write(`ipilab: internal error: ${message}${debug ? '' : ' (--debug shows where)'}\n`);
  if (debug) write(`${e instanceof Error ? e.stack : String(e)}\n`);
  return EXIT.runError;
}

/** --debug anywhere before a lone `--`, or IPILAB_DEBUG=1. */
export function debugWanted(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).includes('--debug') || env['IPILAB_DEBUG'] === '1';
}
