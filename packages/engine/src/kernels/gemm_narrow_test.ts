/**
 * `gemmNarrowPacked` (wasm/assembly/gemm_narrow.ts), the inference product of narrow, deep Dense
 * layers, against the TypeScript GEMM reference: odd k and n (every group width and k tail),
 * batch 1 and many, bias and fused activations; rows equal whatever the batch.
 */
import { getRuntime } from "../wasm/kernels.ts";
import { ActivationCode } from "../activations.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose } from "../../testing/assert.ts";
import { gemmReference } from "./gemm_reference.ts";
import assert from "node:assert/strict";

/** Packs `b` (k × n) and runs the packed product of `a` (m × k); returns C. */
function narrowProduct(
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array | null,
  m: number,
  n: number,
  k: number,
  code: number = ActivationCode.Linear,
  alpha = 0,
): Float32Array {
  const { kernels, heap } = getRuntime();
  const pa = heap.upload(a), pb = heap.upload(b), pbias = bias ? heap.upload(bias) : 0;
  const packed = heap.alloc(kernels.gemmNarrowPackedFloats(n, k) * 4);
  const pc = heap.alloc(m * n * 4);
  try {
    kernels.gemmNarrowPack(pb, packed, n, k);
    kernels.gemmNarrowPacked(pa, packed, pbias, pc, m, n, k, code, alpha);
    return heap.f32(pc, m * n).slice();
  } finally {
    for (const p of [pa, pb, pbias, packed, pc]) if (p) heap.free(p);
  }
}

Deno.test("gemmNarrowPacked matches the reference for n 1–16, k tails 0–3, batch 1 and many", () => {
  const rng = new Rng(515);
  for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 10, 12, 13, 16]) {
    for (const k of [128, 129, 130, 131, 257, 1001]) {
      for (const m of [1, 3, 8]) {
        const a = rng.floats(m * k), b = rng.floats(k * n), bias = rng.floats(n);
        const withBias = (n + k + m) % 2 === 0;
        const got = narrowProduct(a, b, withBias ? bias : null, m, n, k);
        const want = gemmReference(a, b, withBias ? bias : null, m, n, k);
        assertClose(got, want, 2e-5, `narrow ${m}×${n}×${k} bias=${withBias}`);
      }
    }
  }
});

Deno.test("gemmNarrowPacked fuses the element-wise activations", () => {
  const rng = new Rng(516);
  const [m, n, k] = [3, 10, 200];
  for (const code of [ActivationCode.Relu, ActivationCode.Sigmoid, ActivationCode.Tanh]) {
    const a = rng.floats(m * k, -0.3, 0.3), b = rng.floats(k * n, -0.3, 0.3), bias = rng.floats(n);
    const act = { kind: "elementwise" as const, code, alpha: 0, name: "" };
    const got = narrowProduct(a, b, bias, m, n, k, code);
    assertClose(got, gemmReference(a, b, bias, m, n, k, act), 1e-5, ActivationCode[code]);
  }
});

Deno.test("gemmNarrowPacked: a row's result is the same at batch 1 and in a batch of 7", () => {
  const rng = new Rng(517);
  const [m, n, k] = [7, 10, 8192];
  const a = rng.floats(m * k), b = rng.floats(k * n), bias = rng.floats(n);
  const batch = narrowProduct(a, b, bias, m, n, k);
  for (let i = 0; i < m; i++) {
    const one = narrowProduct(a.subarray(i * k, (i + 1) * k), b, bias, 1, n, k);
    assert.deepEqual(Array.from(one), Array.from(batch.subarray(i * n, (i + 1) * n)), `row ${i}`);
  }
});

Deno.test("gemmNarrowApplies: n 1–16 over k ≥ 128 only", () => {
  const { kernels } = getRuntime();
  assert.equal(kernels.gemmNarrowApplies(10, 8192), 1);
  assert.equal(kernels.gemmNarrowApplies(16, 128), 1);
  assert.equal(kernels.gemmNarrowApplies(17, 8192), 0);
  assert.equal(kernels.gemmNarrowApplies(10, 127), 0);
});
