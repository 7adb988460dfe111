/**
 * Assertion helpers for this package's tests (no Deno std here), built on `node:assert`.
 *
 * @module
 */

import nodeAssert from "node:assert/strict";

/** Fails unless `condition` is truthy. */
export function assert(condition: unknown, message?: string): asserts condition {
  nodeAssert.ok(condition, message ?? "assertion failed");
}

/** Deep, strict equality (typed arrays compare by type and content). */
export function assertEquals(actual: unknown, expected: unknown, message?: string): void {
  if (message === undefined) nodeAssert.deepStrictEqual(actual, expected);
  else nodeAssert.deepStrictEqual(actual, expected, message);
}

/** Fails if `actual` deep-equals `expected`. */
export function assertNotEquals(actual: unknown, expected: unknown, message?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message ?? "values are equal");
}

// deno-lint-ignore no-explicit-any
type ErrorClass<E extends Error> = new (...args: any[]) => E;

function check<E extends Error>(error: unknown, type: ErrorClass<E>, includes?: string): E {
  if (!(error instanceof type)) {
    throw new nodeAssert.AssertionError({
      message: `expected ${type.name}, got ${error instanceof Error ? error.stack : error}`,
    });
  }
  if (includes !== undefined && !error.message.includes(includes)) {
    throw new nodeAssert.AssertionError({
      message: `expected the message to include ${JSON.stringify(includes)}: ${error.message}`,
    });
  }
  return error;
}

/** Runs `fn`, expects it to throw a `type` whose message includes `includes`; returns it. */
export function assertThrows<E extends Error>(
  fn: () => unknown,
  type: ErrorClass<E>,
  includes?: string,
): E {
  try {
    fn();
  } catch (error) {
    return check(error, type, includes);
  }
  throw new nodeAssert.AssertionError({ message: `expected ${type.name}, nothing was thrown` });
}

/** Awaits `fn()`, expects it to reject with a `type` whose message includes `includes`. */
export async function assertRejects<E extends Error>(
  fn: () => Promise<unknown>,
  type: ErrorClass<E>,
  includes?: string,
): Promise<E> {
  try {
    await fn();
  } catch (error) {
    return check(error, type, includes);
  }
  throw new nodeAssert.AssertionError({ message: `expected ${type.name}, nothing was thrown` });
}
