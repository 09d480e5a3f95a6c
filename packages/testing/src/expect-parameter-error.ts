import { InvalidParameterError } from '@ipilab/core';

/**
 * Asserts that `act` throws an InvalidParameterError for `field` whose message reads
 * "<field>: expected …" and contains `text`: the shape every bad-input error takes.
 */
export function expectParameterError(act: () => unknown, field: string, text: string): void {
  let caught: unknown;
  try {
    act();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(InvalidParameterError);
  expect((caught as InvalidParameterError).field).toBe(field);
  expect((caught as Error).message).toContain(`${field}: expected`);
  expect((caught as Error).message).toContain(text);
}
