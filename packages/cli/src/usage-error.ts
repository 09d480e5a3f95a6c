/**
 * A mistake in the command line the CLI itself finds (an output path it cannot write, a result
 * file it cannot rerun): one line, exit 2. Its own light module so that checking the command line
 * does not load the scenario package and the model behind it.
 */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
