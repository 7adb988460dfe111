/** Plain TypeScript GEMM — the test oracle of the `gemm` kernel. */
import { activateReference, type Activation, softmaxReference } from "../activations.ts";

/** `act(A[m×k] · B[k×n] + bias[n])`, float64 accumulation. */
export function gemmReference(
  a: Float32Array,
  b: Float32Array,
  bias: Float32Array | null,
  m: number,
  n: number,
  k: number,
  act: Activation = { kind: "elementwise", code: 0, alpha: 0, name: "linear" },
): Float32Array {
  const c = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = bias ? bias[j] : 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = act.kind === "elementwise" ? activateReference(s, act.code, act.alpha) : s;
    }
  }
  return act.kind === "elementwise" ? c : softmaxReference(c, n, act.kind === "log_softmax");
}
