/**
 * Small assertion helpers for this package's tests (no Deno std here), built on
 * `node:assert`.
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Fails unless `condition` is truthy. */
export function assert(condition: unknown, message?: string): asserts condition {
  nodeAssert.ok(condition, message ?? "assertion failed");
}

/** Deep, strict equality (typed arrays compare by type and content). */
export function assertEquals<T>(actual: unknown, expected: T, message?: string): void {
  if (message === undefined) nodeAssert.deepStrictEqual(actual, expected);
  else nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Fails unless `|actual - expected| <= tolerance` for each element. */
export function assertAllClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tolerance = 1e-6,
): void {
  nodeAssert.equal(actual.length, expected.length, "lengths differ");
  for (let i = 0; i < expected.length; i++) {
    const ok = Math.abs(actual[i] - expected[i]) <= tolerance;
    nodeAssert.ok(ok, `element ${i}: ${actual[i]} is not within ${tolerance} of ${expected[i]}`);
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass = abstract new (...args: any[]) => Error;

/** Fails unless `fn` throws an instance of `errorClass` whose message contains `includes`. */
export function assertThrows(fn: () => unknown, errorClass: ErrorClass, includes = ""): Error {
  let caught: unknown = undefined;
  let threw = false;
  try {
    fn();
  } catch (error) {
    threw = true;
    caught = error;
  }
  nodeAssert.ok(threw, `expected ${errorClass.name} to be thrown`);
  nodeAssert.ok(
    caught instanceof errorClass,
    `expected ${errorClass.name}, got ${String(caught)}`,
  );
  nodeAssert.ok(
    (caught as Error).message.includes(includes),
    `expected the message to include ${JSON.stringify(includes)}: ${(caught as Error).message}`,
  );
  return caught as Error;
}
