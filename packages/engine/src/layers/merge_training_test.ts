import { Rng } from "../../testing/random.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import {
  buildMerge,
  type HostMask,
  type HostTensor,
  MERGE_CASES,
  mergeFiniteDifferences,
  mergeGradients,
  tfjsMerge,
} from "../../testing/merge_cases.ts";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function randomInputs(rng: Rng, shapes: number[][]): HostTensor[] {
  return shapes.map((shape) => ({ data: rng.floats(size(shape), -2, 2), shape }));
}

/** max |a − b| / max(max |b|, floor). */
function relErr(a: ArrayLike<number>, b: ArrayLike<number>, floor = 1e-3): number {
  let d = 0, s = floor;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    s = Math.max(s, Math.abs(b[i]));
  }
  return a.length === b.length ? d / s : Infinity;
}

/** ∂(Σ merge(xs)·dy)/∂xs by TF.js. */
function tfjsGradients(
  cls: string,
  config: Record<string, unknown>,
  xs: HostTensor[],
  dy: Float32Array,
  outShape: number[],
): Float32Array[] {
  return tf.tidy(() => {
    const dyT = tf.tensor(dy, outShape);
    // TF.js's Maximum/Minimum gradients do not sum over broadcast dims: broadcast explicitly
    // (Keras style: size-1 dims after the batch axis, then tf.broadcastTo, whose gradient sums).
    const expand = cls === "Maximum" || cls === "Minimum";
    const widen = (t: tf.Tensor) => {
      const pad = outShape.length - t.shape.length;
      const r = tf.reshape(t, [t.shape[0], ...new Array(pad).fill(1), ...t.shape.slice(1)]);
      return tf.broadcastTo(r, outShape);
    };
    const f = (...ts: tf.Tensor[]) =>
      tf.sum(tf.mul(tfjsMerge(cls, config, expand ? ts.map(widen) : ts), dyT));
    const grads = tf.grads(f)(xs.map((x) => tf.tensor(x.data, x.shape)));
    return grads.map((g) => g.dataSync() as Float32Array);
  });
}

Deno.test("merge gradients match TF.js (≤ 1e-4 relative): every class, broadcasts, axes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1421);
  let worst = 0;
  for (const [cls, config, shapes] of MERGE_CASES) {
    for (const batch of [1, 17]) {
      const full = shapes.map((s) => [batch, ...s]);
      const layer = buildMerge(cls, config, full);
      const xs = randomInputs(rng, full);
      const outShape = [batch, ...(layer.outputShape as number[])];
      const dy = rng.floats(size(outShape));
      const got = mergeGradients(layer, xs, dy);
      const want = tfjsGradients(cls, config, xs, dy, outShape);
      got.forEach((g, i) => {
        const e = relErr(g!, want[i]);
        worst = Math.max(worst, e);
        if (!(e <= 1e-4)) {
          throw new Error(
            `${cls} ${JSON.stringify(config)} ${JSON.stringify(full)} input ${i}: rel err ${e}`,
          );
        }
      });
    }
  }
  console.log(`merge gradients: max relative error vs TF.js = ${worst.toExponential(2)}`);
});

Deno.test("Maximum/Minimum route tied gradients to the earlier input, as TF.js does", async () => {
  await tfReady();
  const rng = new Rng(1422);
  for (const cls of ["Maximum", "Minimum"]) {
    for (const batch of [1, 17]) {
      const shape = [batch, 3, 5];
      const a = rng.floats(size(shape));
      const b = Float32Array.from(a, (v, i) => (i % 2 ? v : v + (i % 4 ? 0.5 : -0.5)));
      const c = a.slice(); // ties with the first input everywhere
      const xs = [a, b, c].map((data) => ({ data, shape }));
      const layer = buildMerge(cls, {}, [shape, shape, shape]);
      const dy = rng.floats(size(shape));
      const got = mergeGradients(layer, xs, dy);
      const want = tfjsGradients(cls, {}, xs, dy, shape);
      got.forEach((g, i) => {
        if (relErr(g!, want[i]) > 1e-6) throw new Error(`${cls} batch ${batch} input ${i}`);
      });
    }
  }
});

function rowMask(rng: Rng, batch: number, time: number): HostMask {
  const data = Int32Array.from({ length: batch * time }, () => (rng.next() < 0.6 ? 1 : 0));
  return { data, shape: [batch, time] };
}

Deno.test("merge gradients match finite differences: masked Keras 3 Multiply/Maximum/Minimum, Dot normalize, Concatenate", () => {
  const rng = new Rng(1423);
  const cases: [string, Record<string, unknown>, number[][], boolean][] = [
    ["Add", {}, [[2, 3, 5], [2, 1, 5]], false],
    ["Subtract", {}, [[3, 7], [3, 7]], false],
    ["Average", {}, [[1, 4, 3], [1, 4, 3], [1, 4, 3]], false],
    ["Multiply", {}, [[2, 3, 5], [2, 3, 5], [2, 3, 5]], true],
    ["Multiply", {}, [[2, 4, 3], [2, 4, 1]], false],
    ["Maximum", {}, [[2, 3, 5], [2, 3, 5], [2, 3, 5]], true],
    ["Minimum", {}, [[3, 2, 7], [3, 2, 7]], true],
    ["Concatenate", { axis: 1 }, [[2, 3, 5], [2, 2, 5]], false],
    ["Dot", { axes: [1, 2], normalize: true }, [[2, 5, 3], [2, 4, 5]], false],
    ["Dot", { axes: 2, normalize: true }, [[3, 2, 5], [3, 3, 5]], false],
    ["Dot", { axes: 1 }, [[17, 5], [17, 5]], false],
  ];
  for (const [cls, config, shapes, masked] of cases) {
    const layer = buildMerge(cls, config, shapes);
    const xs = randomInputs(rng, shapes);
    const outShape = [shapes[0][0], ...(layer.outputShape as number[])];
    const dy = rng.floats(size(outShape));
    const patterns: (HostMask | null)[][] = masked
      ? [
        shapes.map((s) => rowMask(rng, s[0], s[1])),
        shapes.map((s, i) => (i === 0 ? null : rowMask(rng, s[0], s[1]))),
      ]
      : [[]];
    for (const masks of patterns) {
      const got = mergeGradients(layer, xs, dy, masks);
      const want = mergeFiniteDifferences(layer, xs, dy, masks);
      got.forEach((g, i) => {
        const e = relErr(g!, want[i], 1e-1);
        if (!(e <= 2e-3)) {
          throw new Error(
            `${cls} ${JSON.stringify(config)} input ${i} masks ${masks.length}: ${e}`,
          );
        }
      });
    }
  }
});

Deno.test("merge backward skips inputs whose gradient is not needed", () => {
  const rng = new Rng(1424);
  for (const cls of ["Add", "Subtract", "Multiply", "Maximum", "Concatenate", "Dot"]) {
    const shapes = [[3, 4], [3, 4]];
    const config = cls === "Dot" ? { axes: 1 } : {};
    const layer = buildMerge(cls, config, shapes);
    const xs = randomInputs(rng, shapes);
    const dy = rng.floats(cls === "Dot" ? 3 : cls === "Concatenate" ? 24 : 12);
    const all = mergeGradients(layer, xs, dy);
    for (const need of [[true, false], [false, true]]) {
      const part = mergeGradients(layer, xs, dy, [], need);
      part.forEach((g, i) => {
        if (need[i] !== (g !== null)) throw new Error(`${cls} need ${need}: input ${i}`);
        if (g && relErr(g, all[i]!) > 0) throw new Error(`${cls} need ${need}: input ${i} differs`);
      });
    }
  }
});
