import { InvalidOptionError } from "./errors.ts";
import { seededRandom, stratifiedSplit } from "./split.ts";
import { assert, assertEquals, assertNotEquals, assertThrows } from "./test_assert.ts";

function perClass(labels: Int32Array, indices: Int32Array): number[] {
  const counts = new Array(10).fill(0);
  for (const index of indices) counts[labels[index]]++;
  return counts;
}

Deno.test("stratifiedSplit: 50k CIFAR-like labels → 4,000 / 1,000 per class", () => {
  const labels = Int32Array.from({ length: 50000 }, (_, i) => (i * 7919) % 10);
  const split = stratifiedSplit(labels, 0.2, 42);
  assertEquals(split.train.length, 40000);
  assertEquals(split.validation.length, 10000);
  assertEquals(perClass(labels, split.train), new Array(10).fill(4000));
  assertEquals(perClass(labels, split.validation), new Array(10).fill(1000));
  const seen = new Uint8Array(50000);
  for (const index of [...split.train, ...split.validation]) seen[index]++;
  assert(seen.every((count) => count === 1), "every sample in exactly one part");
  for (let i = 1; i < split.validation.length; i++) {
    assert(split.validation[i - 1] < split.validation[i], "ascending order");
  }
});

Deno.test("stratifiedSplit: deterministic per seed, different across seeds", () => {
  const labels = Int32Array.from({ length: 1000 }, (_, i) => i % 4);
  assertEquals(stratifiedSplit(labels, 0.25, 1), stratifiedSplit(labels, 0.25, 1));
  assertNotEquals(stratifiedSplit(labels, 0.25, 1), stratifiedSplit(labels, 0.25, 2));
});

Deno.test("stratifiedSplit: uneven classes round per class; fraction 0 keeps all", () => {
  const labels = Int32Array.from([0, 0, 0, 1, 1, 2]);
  const split = stratifiedSplit(labels, 0.5, 3);
  // round(3 × 0.5) = 2, round(2 × 0.5) = 1, round(1 × 0.5) = 1.
  const counts = [0, 0, 0];
  for (const index of split.validation) counts[labels[index]]++;
  assertEquals(counts, [2, 1, 1]);
  assertEquals(stratifiedSplit(labels, 0, 3).train, Int32Array.from([0, 1, 2, 3, 4, 5]));
});

Deno.test("stratifiedSplit: rejects fractions outside [0, 1) and non-integer seeds", () => {
  const labels = [0, 1];
  assertThrows(() => stratifiedSplit(labels, 1, 0), InvalidOptionError);
  assertThrows(() => stratifiedSplit(labels, -0.1, 0), InvalidOptionError);
  assertThrows(() => stratifiedSplit(labels, Number.NaN, 0), InvalidOptionError);
  assertThrows(() => stratifiedSplit(labels, 0.5, 0.5), InvalidOptionError);
});

Deno.test("seededRandom: repeatable stream in [0, 1)", () => {
  const a = seededRandom(123);
  const b = seededRandom(123);
  const values = Array.from({ length: 1000 }, () => a());
  assertEquals(values, Array.from({ length: 1000 }, () => b()));
  assert(values.every((v) => v >= 0 && v < 1));
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  assert(Math.abs(mean - 0.5) < 0.05, `mean ${mean}`);
});
