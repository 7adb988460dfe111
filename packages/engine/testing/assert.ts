/** Assertions shared by the engine's tests. */
import { maxAbsDiff } from "./random.ts";

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

/** Throws unless max |got − want| ≤ `tol` (NaN or a length mismatch always fails). */
export function assertClose(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  const d = maxAbsDiff(got, want);
  if (!(d <= tol)) throw new Error(`${what}: max |Δ| = ${d} > ${tol}`);
}

/**
 * Throws unless max |got − want| ≤ `tol` · max(`minScale`, max |want|): a relative bound for
 * sums whose magnitude grows with the problem size.
 */
export function assertCloseToScale(
  got: ArrayLike<number>,
  want: ArrayLike<number>,
  tol: number,
  what: string,
  minScale = 1e-3,
): void {
  let scale = minScale;
  for (let i = 0; i < want.length; i++) scale = Math.max(scale, Math.abs(want[i]));
  const d = maxAbsDiff(got, want);
  if (!(d <= tol * scale)) throw new Error(`${what}: max |Δ| = ${d} > ${tol}·${scale}`);
}
