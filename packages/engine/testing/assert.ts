/** Assertions shared by the engine's tests. */

/**
 * Throws unless `fn` throws an instance of `cls` whose message contains every one of `parts`
 * (typed errors must name the layer/field/value at fault).
 */
export function expectThrows(
  fn: () => unknown,
  cls: new (...a: never[]) => Error,
  ...parts: string[]
): void {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof cls)) throw new Error(`expected ${cls.name}, got ${e}`);
    for (const p of parts) {
      if (!e.message.includes(p)) throw new Error(`"${e.message}" lacks "${p}"`);
    }
    return;
  }
  throw new Error(`expected ${cls.name}, nothing thrown`);
}
