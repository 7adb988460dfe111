/**
 * The batcher on a fake engine: coalescing by shape key, batch size limit, and isolation — a
 * request that makes the engine throw fails alone while its batch companions succeed.
 */
import { deepStrictEqual as assertEquals, rejects } from "node:assert/strict";
import { Batcher, type BatchOutput, type BatchPart } from "./batcher.ts";

/** Doubles every value; throws when a row holds -1 (a poisoned instance). */
function doubler(calls: number[]) {
  return (parts: BatchPart[], n: number): BatchOutput[] => {
    calls.push(n);
    if (parts[0].data.includes(-1)) throw new Error("poisoned row");
    return [{ data: parts[0].data.map((v) => v * 2), shape: parts[0].shape }];
  };
}

const part = (values: number[], width: number): BatchPart => ({
  data: Float32Array.from(values),
  shape: [width],
});

Deno.test("Batcher: same-shape requests share a batch, other shapes get their own", async () => {
  const calls: number[] = [];
  const b = new Batcher(doubler(calls), { maxBatchSize: 8, maxWaitMs: 20, maxQueue: 10 });
  const [a, c, wide] = await Promise.all([
    b.submit([part([1, 2], 2)], 1, 1000),
    b.submit([part([3, 4, 5, 6], 2)], 2, 1000),
    b.submit([part([7, 8, 9], 3)], 1, 1000),
  ]);
  assertEquals([...a[0].data], [2, 4]);
  assertEquals([...c[0].data], [6, 8, 10, 12]);
  assertEquals([...wide[0].data], [14, 16, 18]);
  assertEquals(calls, [3, 1]);
});

Deno.test("Batcher: maxBatchSize splits the queue; a larger single request runs alone", async () => {
  const calls: number[] = [];
  const b = new Batcher(doubler(calls), { maxBatchSize: 2, maxWaitMs: 20, maxQueue: 10 });
  await Promise.all([
    b.submit([part([1], 1)], 1, 1000),
    b.submit([part([2], 1)], 1, 1000),
    b.submit([part([3], 1)], 1, 1000),
    b.submit([part([4, 5, 6], 1)], 3, 1000),
  ]);
  assertEquals(calls, [2, 1, 3]);
});

Deno.test("Batcher: a request that makes the engine throw fails alone", async () => {
  const calls: number[] = [];
  const b = new Batcher(doubler(calls), { maxBatchSize: 8, maxWaitMs: 20, maxQueue: 10 });
  const good1 = b.submit([part([1], 1)], 1, 1000);
  const bad = b.submit([part([-1], 1)], 1, 1000);
  const good2 = b.submit([part([5], 1)], 1, 1000);
  await rejects(bad, /poisoned row/);
  assertEquals([...(await good1)[0].data], [2]);
  assertEquals([...(await good2)[0].data], [10]);
  assertEquals(calls, [3, 1, 1, 1]);
  assertEquals(b.pending, 0);
});
