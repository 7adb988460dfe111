/**
 * NumPy's legacy `np.random.RandomState(seed).shuffle(...)` reproduced exactly: MT19937 seeded
 * with `init_genrand(seed)`, then a Fisher–Yates pass from the end drawing each index with
 * NumPy's masked rejection sampling (`random_interval`). Keras's `index_directory` shuffles its
 * file list this way, so the same seed gives the same order (and the same validation split) as
 * `keras.utils.image_dataset_from_directory`.
 *
 * @module
 */

import { InvalidOptionError } from "./errors.ts";

const N = 624;
const M = 397;

/** The MT19937 generator as NumPy's `RandomState` seeds it from an integer. */
export class Mt19937 {
  readonly #state = new Uint32Array(N);
  #index = N;

  /** Seeds like `np.random.RandomState(seed)` (an integer in [0, 2^32)). */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new InvalidOptionError("seed", "an integer in [0, 2^32 - 1]", seed);
    }
    const mt = this.#state;
    mt[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const previous = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, previous) + i) >>> 0;
    }
  }

  /** The next 32-bit output (`genrand_int32`). */
  nextUint32(): number {
    const mt = this.#state;
    if (this.#index >= N) {
      for (let k = 0; k < N; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % N] & 0x7fffffff);
        mt[k] = mt[(k + M) % N] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.#index = 0;
    }
    let y = mt[this.#index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A uniform integer in [0, max] by NumPy's masked rejection (`random_interval`, max < 2^32). */
  interval(max: number): number {
    if (max === 0) return 0;
    let mask = max;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    mask >>>= 0;
    let value: number;
    do value = (this.nextUint32() & mask) >>> 0; while (value > max);
    return value;
  }
}

/**
 * Shuffles `items` in place exactly as `np.random.RandomState(seed).shuffle(items)` does, and
 * returns it.
 */
export function numpyShuffle<T extends { length: number; [i: number]: unknown }>(
  items: T,
  seed: number,
): T {
  const rng = new Mt19937(seed);
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.interval(i);
    const swap = items[i];
    items[i] = items[j];
    items[j] = swap;
  }
  return items;
}
