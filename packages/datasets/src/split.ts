/**
 * Seeded, stratified train/validation splitting.
 *
 * @module
 */

import { InvalidOptionError } from "./errors.ts";

/** A seeded pseudo-random generator returning floats in [0, 1) (mulberry32). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Checks a validation fraction (in [0, 1)) and a seed (an integer). @throws {InvalidOptionError} */
export function checkSplitOptions(fraction: number, seed: number): void {
  if (typeof fraction !== "number" || !(fraction >= 0 && fraction < 1)) {
    throw new InvalidOptionError("validationFraction", "a number in [0, 1)", fraction);
  }
  if (!Number.isInteger(seed)) throw new InvalidOptionError("seed", "an integer", seed);
}

/** Indices of the two parts of a split, each in ascending order. */
export interface SplitIndices {
  /** Indices kept for training. */
  train: Int32Array;
  /** Indices held out for validation. */
  validation: Int32Array;
}

/**
 * Splits sample indices `0..labels.length-1` so each class sends `round(count × fraction)` of its
 * samples to validation, chosen by a seeded shuffle. The same labels, fraction and seed always
 * give the same split. For CIFAR-10's 50,000 training images and fraction 0.2 that is exactly
 * 4,000 / 1,000 per class.
 *
 * @throws {InvalidOptionError} `fraction` outside [0, 1) or `seed` not an integer.
 */
export function stratifiedSplit(
  labels: ArrayLike<number>,
  fraction: number,
  seed: number,
): SplitIndices {
  checkSplitOptions(fraction, seed);
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < labels.length; i++) {
    const members = byClass.get(labels[i]);
    if (members) members.push(i);
    else byClass.set(labels[i], [i]);
  }
  const random = seededRandom(seed);
  const validation: number[] = [];
  const train: number[] = [];
  // Classes in ascending order so the random stream is consumed the same way every time.
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const members = byClass.get(label)!;
    for (let i = members.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [members[i], members[j]] = [members[j], members[i]];
    }
    const held = Math.round(members.length * fraction);
    for (let i = 0; i < members.length; i++) (i < held ? validation : train).push(members[i]);
  }
  return {
    train: Int32Array.from(train).sort(),
    validation: Int32Array.from(validation).sort(),
  };
}
