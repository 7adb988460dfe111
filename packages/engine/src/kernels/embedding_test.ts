import { getRuntime } from "../wasm/kernels.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { embeddingMaskReference, embeddingReference } from "./embedding_reference.ts";

Deno.test("embeddingGather and embeddingMask match the reference (int32 and float32 ids)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(31);
  for (
    const [batch, time, inputDim, dim] of [[1, 1, 1, 1], [1, 9, 7, 5], [17, 13, 31, 3], [
      17,
      100,
      3000,
      64,
    ], [4, 6, 10, 130]]
  ) {
    for (const asInt of [true, false]) {
      const n = batch * time;
      const raw = Array.from({ length: n }, () => rng.int(0, inputDim));
      const ids = asInt ? Int32Array.from(raw) : Float32Array.from(raw);
      const table = rng.floats(inputDim * dim);
      const pi = heap.upload(ids), pt = heap.upload(table), po = heap.alloc(n * dim * 4);
      const pm = heap.alloc(n * 4);
      const bad = kernels.embeddingGather(pi, asInt ? 1 : 0, pt, po, n, inputDim, dim);
      kernels.embeddingMask(pi, asInt ? 1 : 0, pm, n);
      const want = embeddingReference(ids, table, inputDim, dim);
      if (bad !== -1 || want.badIndex !== -1) throw new Error(`unexpected bad id ${bad}`);
      const d = maxAbsDiff(heap.f32(po, n * dim), want.out!);
      if (d !== 0) throw new Error(`gather ${batch}x${time} ${inputDim}x${dim}: ${d}`);
      if (maxAbsDiff(heap.i32(pm, n), embeddingMaskReference(ids)) !== 0) throw new Error("mask");
      [pi, pt, po, pm].forEach((p) => heap.free(p));
    }
  }
});

Deno.test("embeddingGather reports the first id outside [0, input_dim) or not an integer", () => {
  const { kernels, heap } = getRuntime();
  const table = new Float32Array(5 * 3);
  const cases: [Float32Array | Int32Array, number][] = [
    [Int32Array.from([1, 2, 5, 0]), 2],
    [Int32Array.from([-1, 2]), 0],
    [Float32Array.from([0, 4, 1.5, 9]), 2],
    [Float32Array.from([3, 4, 4, -0.0, 7]), 4],
    [Float32Array.from([0, 1, 2, 3, 4]), -1],
  ];
  for (const [ids, want] of cases) {
    const pi = heap.upload(ids), pt = heap.upload(table), po = heap.alloc(ids.length * 12);
    const got = kernels.embeddingGather(
      pi,
      ids instanceof Int32Array ? 1 : 0,
      pt,
      po,
      ids.length,
      5,
      3,
    );
    if (got !== want) throw new Error(`[${ids}]: bad index ${got}, expected ${want}`);
    if (embeddingReference(ids, table, 5, 3).badIndex !== want) throw new Error("reference");
    [pi, pt, po].forEach((p) => heap.free(p));
  }
});
