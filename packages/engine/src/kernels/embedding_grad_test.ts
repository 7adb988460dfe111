import { getRuntime } from "../wasm/kernels.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { embeddingGradReference } from "./embedding_grad_reference.ts";

Deno.test("embeddingGrad matches the scatter-add reference (int32 and float32 ids, repeats, batch 1 and 17)", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(61);
  for (
    const [batch, time, inputDim, dim] of [[1, 1, 3, 1], [1, 9, 11, 7], [17, 13, 23, 16], [
      17,
      5,
      4,
      33,
    ]]
  ) {
    for (const intIds of [true, false]) {
      const n = batch * time;
      // Few distinct ids so rows repeat; id 0 (padding) included.
      const idList = Array.from({ length: n }, () => rng.int(0, Math.min(inputDim, 5)));
      const ids = intIds ? Int32Array.from(idList) : Float32Array.from(idList);
      const dy = rng.floats(n * dim);
      const pIds = heap.upload(ids), pdy = heap.upload(dy);
      const garbage = rng.floats(inputDim * dim, 5, 9);
      const pGrad = heap.upload(garbage);
      const want = embeddingGradReference(ids, dy, inputDim, dim);
      const what = `[${batch}, ${time}] ids, table ${inputDim}×${dim}, ${
        intIds ? "int32" : "float32"
      }`;
      kernels.embeddingGrad(pIds, intIds ? 1 : 0, pdy, pGrad, n, inputDim, dim, 1);
      const got = heap.f32(pGrad, inputDim * dim).slice();
      const d = maxAbsDiff(got, want);
      if (!(d <= 1e-5)) throw new Error(`${what}: max |Δ| ${d}`);
      // Rows of ids not in the batch are exactly zero (overwrite clears old gradients).
      for (let r = 0; r < inputDim; r++) {
        if (idList.includes(r)) continue;
        if (got.subarray(r * dim, (r + 1) * dim).some((v) => v !== 0)) {
          throw new Error(`${what}: unused row ${r} not zero`);
        }
      }
      // Without overwrite, the scatter adds to what is there.
      kernels.embeddingGrad(pIds, intIds ? 1 : 0, pdy, pGrad, n, inputDim, dim, 0);
      const twice = maxAbsDiff(heap.f32(pGrad, inputDim * dim), want.map((v) => 2 * v));
      if (!(twice <= 2e-5)) throw new Error(`${what} accumulate: max |Δ| ${twice}`);
      [pIds, pdy, pGrad].forEach((p) => heap.free(p));
    }
  }
});
