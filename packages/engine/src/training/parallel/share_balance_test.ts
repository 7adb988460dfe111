import assert from "node:assert/strict";
import { ShareBalancer } from "./share_balance.ts";

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

Deno.test("share balance: even shares until every thread has been measured", () => {
  const b = new ShareBalancer(3);
  assert.deepStrictEqual(b.split(11), [4, 4, 3]);
  assert.deepStrictEqual(b.split(3), [1, 1, 1]);
  // Only two of three threads measured: still even.
  b.record([4, 4, 0], [400, 800, NaN]);
  assert.deepStrictEqual(b.split(11), [4, 4, 3]);
});

Deno.test("share balance: shares follow measured speed and always cover the batch", () => {
  const b = new ShareBalancer(2);
  // The replica takes 2× as long per sample: it gets a third of the batch.
  b.record([32, 32], [3200, 6400]);
  assert.deepStrictEqual(b.split(64), [43, 21]);
  assert.deepStrictEqual(b.split(40), [27, 13]);
  // Under 16 samples a thread the split stays even (one sample is too coarse a step).
  assert.deepStrictEqual(b.split(31), [16, 15]);
  assert.deepStrictEqual(b.split(9), [5, 4]);
  assert.deepStrictEqual(b.split(2), [1, 1]);
  for (let total = 2; total < 200; total += 7) {
    const counts = b.split(total);
    assert.deepStrictEqual(sum(counts), total, `total ${total}`);
    assert(counts.every((c) => Number.isInteger(c) && c >= 1), `${counts}`);
  }
});

Deno.test("share balance: speeds within 15 % of each other keep the split even", () => {
  const b = new ShareBalancer(2);
  b.record([32, 32], [3200, 3600]); // 1.125×
  assert.deepStrictEqual(b.split(64), [32, 32]);
  b.record([32, 32], [3200, 4800]); // the estimate moves to 112.5 + (150 − 112.5) / 4: 1.22×
  assert.deepStrictEqual(b.split(64), [35, 29]);
});

Deno.test("share balance: a slow thread keeps a quarter of the fastest one's share", () => {
  const b = new ShareBalancer(2);
  b.record([10, 10], [100, 100_000]); // 1000× slower: counted as 4×
  assert.deepStrictEqual(b.split(100), [80, 20]);
});

Deno.test("share balance: estimates move a quarter of the way to each new time", () => {
  const b = new ShareBalancer(2);
  b.record([10, 10], [1000, 1000]);
  assert.deepStrictEqual(b.microsPerSample, [100, 100]);
  b.record([10, 10], [1000, 5000]); // one slow call of the replica: 100 → 200 µs a sample
  assert.deepStrictEqual(b.microsPerSample, [100, 200]);
  // A sustained slowdown converges on it.
  for (let i = 0; i < 30; i++) b.record([10, 10], [1000, 5000]);
  assert(Math.abs(b.microsPerSample[1] - 500) < 1, `${b.microsPerSample}`);
  // Calls that ran nothing, or timed nothing usable, change nothing.
  b.record([0, 10], [NaN, Infinity]);
  b.record([10, 10], [-1, 0]);
  assert(Math.abs(b.microsPerSample[1] - 500) < 1);
  assert.deepStrictEqual(b.microsPerSample[0], 100);
});

Deno.test("share balance: bad thread counts and totals are range errors", () => {
  assert.throws(() => new ShareBalancer(0), RangeError);
  assert.throws(() => new ShareBalancer(1.5), RangeError);
  const b = new ShareBalancer(3);
  assert.throws(() => b.split(2), /integer ≥ 3/);
  assert.throws(() => b.split(4.5), RangeError);
});
