import { InputShapeError, LayerConfigError } from "../errors.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose, expectThrows } from "../../testing/assert.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import {
  buildMerge,
  type HostMask,
  type HostTensor,
  MERGE_CASES,
  runMerge,
  tfjsMerge,
} from "../../testing/merge_cases.ts";
import { mergeMaskedReference } from "../kernels/merge_reference.ts";
import { Add } from "./add.ts";
import { Concatenate } from "./concatenate.ts";
import { Dot } from "./dot.ts";
import { Subtract } from "./subtract.ts";
import { getRuntime } from "../wasm/kernels.ts";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function randomInputs(rng: Rng, shapes: number[][]): HostTensor[] {
  return shapes.map((shape) => ({ data: rng.floats(size(shape), -2, 2), shape }));
}

Deno.test("merge layers match TF.js forward (≤ 1e-5): every class, broadcasts, axes, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(1411);
  let worst = 0;
  for (const [cls, config, shapes] of MERGE_CASES) {
    for (const batch of [1, 17]) {
      const full = shapes.map((s) => [batch, ...s]);
      const layer = buildMerge(cls, config, full);
      const xs = randomInputs(rng, full);
      const { y } = runMerge(layer, xs);
      const want = tf.tidy(() => {
        const out = tfjsMerge(cls, config, xs.map((x) => tf.tensor(x.data, x.shape)));
        return { data: out.dataSync() as Float32Array, shape: out.shape };
      });
      const what = `${cls} ${JSON.stringify(config)} ${JSON.stringify(full)}`;
      if (y.shape.join() !== want.shape.join()) {
        throw new Error(`${what}: shape ${y.shape} vs TF.js ${want.shape}`);
      }
      const expectShape = [batch, ...(layer.outputShape as number[])];
      if (y.shape.join() !== expectShape.join()) {
        throw new Error(`${what}: shape ${y.shape} vs computeOutputShapes ${expectShape}`);
      }
      assertClose(y.data, want.data, 1e-5, what);
      for (let i = 0; i < y.data.length; i++) {
        worst = Math.max(worst, Math.abs(y.data[i] - want.data[i]));
      }
    }
  }
  console.log(`merge forward: max |engine − TF.js| = ${worst.toExponential(2)}`);
});

Deno.test("merge layers: shape rules and typed errors name the layer and the shapes", () => {
  const add = new Add({ name: "sum" });
  // Keras: an unknown dim stays unknown (even against a known size), a 1 broadcasts.
  if (add.computeOutputShapes([[3, null], [1, 4]]).join() !== "3,") {
    throw new Error("broadcast of (3, None) and (1, 4)");
  }
  expectThrows(
    () => add.computeOutputShapes([[3, 4], [5, 4]]),
    InputShapeError,
    "sum",
    "(None, 5, 4)",
  );
  expectThrows(() => add.computeOutputShape([3]), InputShapeError, "sum", "list of input tensors");
  expectThrows(
    () => new Subtract({ name: "diff" }).computeOutputShapes([[3], [3], [3]]),
    InputShapeError,
    "diff",
    "exactly 2",
  );
  const cat = new Concatenate({ name: "cat", axis: 1 });
  if (cat.computeOutputShapes([[2, 3], [null, 3]]).join() !== ",3") {
    throw new Error("unknown concat dim stays unknown");
  }
  // A negative axis counts from the end of the shape with batch: -3 of a rank-4 input is 1.
  const neg = new Concatenate({ axis: -3 }).computeOutputShapes([[1, 3, 5], [3, 3, 5]]);
  if (neg.join() !== "4,3,5") throw new Error(`Concatenate(axis=-3): ${neg}`);
  expectThrows(
    () => cat.computeOutputShapes([[2, 3], [2, 4]]),
    InputShapeError,
    "cat",
    "(None, 2, 4)",
  );
  expectThrows(
    () => new Concatenate({ name: "cat0", axis: 0 }).computeOutputShapes([[2], [2]]),
    LayerConfigError,
    "cat0",
    "batch",
  );
  expectThrows(
    () => new Dot({ name: "dot", axes: 1 }).computeOutputShapes([[3], [4]]),
    InputShapeError,
    "dot",
    "(None, 3)",
    "(None, 4)",
  );
  expectThrows(() => new Dot({ name: "d2", axes: "x" }), LayerConfigError, "d2", "axes");
  expectThrows(
    () => new Dot({ name: "d3", axes: 0 }).computeOutputShapes([[3], [3]]),
    LayerConfigError,
    "d3",
    "batch",
  );
  if (new Dot({ axes: 1 }).computeOutputShapes([[5], [5]]).join() !== "1") {
    throw new Error("Dot of two vectors is (None, 1)");
  }
  // Run-time shapes: different batch sizes are refused.
  const layer = buildMerge("Add", {}, [[2, 3], [2, 3]]);
  expectThrows(
    () =>
      runMerge(layer, [
        { data: new Float32Array(6), shape: [2, 3] },
        { data: new Float32Array(9), shape: [3, 3] },
      ]),
    InputShapeError,
    "add",
    "[3, 3]",
  );
  // A merge layer called like a single-input layer.
  const { kernels, heap } = getRuntime();
  expectThrows(
    () =>
      layer.call({ ptr: 0, shape: [2, 3], dtype: "float32" }, null, {
        kernels,
        heap,
        training: false,
      }),
    InputShapeError,
    "add",
    "list of input tensors",
  );
});

function rowMask(rng: Rng, batch: number, time: number): HostMask {
  const data = Int32Array.from({ length: batch * time }, () => (rng.next() < 0.6 ? 1 : 0));
  return { data, shape: [batch, time] };
}

Deno.test("masks: Keras ≥ 3.4 ORs them (all present), Keras 2 / < 3.4 ANDs those present; Dot drops them", () => {
  const rng = new Rng(1412);
  const shapes = [[3, 4, 5], [3, 4, 5]];
  const xs = randomInputs(rng, shapes);
  const m0 = rowMask(rng, 3, 4), m1 = rowMask(rng, 3, 4);
  const or = Int32Array.from(m0.data, (v, i) => (v || m1.data[i] ? 1 : 0));
  const and = Int32Array.from(m0.data, (v, i) => (v && m1.data[i] ? 1 : 0));
  for (const cls of ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum"]) {
    const k3 = buildMerge(cls, {}, shapes);
    assertClose(runMerge(k3, xs, [m0, m1]).mask!.data, or, 0, `${cls} Keras 3 mask`);
    if (runMerge(k3, xs, [m0, null]).mask !== null) throw new Error(`${cls}: one mask → none`);
    const k2 = buildMerge(cls, {}, shapes, "2.15.0");
    assertClose(runMerge(k2, xs, [m0, m1]).mask!.data, and, 0, `${cls} Keras 2 mask`);
    assertClose(runMerge(k2, xs, [null, m1]).mask!.data, m1.data, 0, `${cls} Keras 2 one mask`);
    if (runMerge(k2, xs, [null, null]).mask !== null) throw new Error(`${cls}: no masks → none`);
  }
  // The rules changed in Keras 3.4 (keras-team/keras#19685): 3.3 still ANDs.
  const k33 = buildMerge("Add", {}, shapes, "3.3.3");
  assertClose(runMerge(k33, xs, [m0, m1]).mask!.data, and, 0, "Keras 3.3 mask");
  const k34 = buildMerge("Add", {}, shapes, "3.4.0");
  assertClose(runMerge(k34, xs, [m0, m1]).mask!.data, or, 0, "Keras 3.4 mask");
  const dot = buildMerge("Dot", { axes: 2 }, shapes);
  if (runMerge(dot, xs, [m0, m1]).mask !== null) throw new Error("Dot returns no mask");
});

Deno.test("masks: Concatenate concatenates them along time, combines them along features", () => {
  const rng = new Rng(1413);
  const m0 = rowMask(rng, 2, 3), m1 = rowMask(rng, 2, 4);
  // Along time (axis 1): [2, 3+4] masks, a missing mask is all valid.
  const xt = randomInputs(rng, [[2, 3, 5], [2, 4, 5]]);
  const cat = buildMerge("Concatenate", { axis: 1 }, xt.map((x) => x.shape));
  const want = new Int32Array(14);
  for (let b = 0; b < 2; b++) {
    for (let t = 0; t < 3; t++) want[b * 7 + t] = m0.data[b * 3 + t];
    for (let t = 0; t < 4; t++) want[b * 7 + 3 + t] = m1.data[b * 4 + t];
  }
  const got = runMerge(cat, xt, [m0, m1]).mask!;
  if (got.shape.join() !== "2,7") throw new Error(`mask shape ${got.shape}`);
  assertClose(got.data, want, 0, "Concatenate(axis=1) mask");
  const half = Int32Array.from(want, (v, i) => (i % 7 < 3 ? v : 1));
  assertClose(runMerge(cat, xt, [m0, null]).mask!.data, half, 0, "missing mask = all valid");
  // Along features: Keras 3 any, Keras 2 all (missing = valid).
  const xf = randomInputs(rng, [[2, 3, 5], [2, 3, 2]]);
  const m2 = rowMask(rng, 2, 3);
  const shapes = xf.map((x) => x.shape);
  const any = Int32Array.from(m0.data, (v, i) => (v || m2.data[i] ? 1 : 0));
  const all = Int32Array.from(m0.data, (v, i) => (v && m2.data[i] ? 1 : 0));
  const k3 = buildMerge("Concatenate", {}, shapes);
  assertClose(runMerge(k3, xf, [m0, m2]).mask!.data, any, 0, "Keras 3 feature concat");
  assertClose(runMerge(k3, xf, [m0, null]).mask!.data, new Int32Array(6).fill(1), 0, "K3 one");
  const k2 = buildMerge("Concatenate", {}, shapes, "2.15.0");
  assertClose(runMerge(k2, xf, [m0, m2]).mask!.data, all, 0, "Keras 2 feature concat");
  assertClose(runMerge(k2, xf, [m0, null]).mask!.data, m0.data, 0, "Keras 2 one");
  if (runMerge(k3, xf, [null, null]).mask !== null) throw new Error("no masks → none");
});

Deno.test("Keras 3 masked Multiply/Maximum/Minimum values follow Keras's masked merge loop", () => {
  const rng = new Rng(1414);
  for (const [batch, time, feat, count] of [[1, 4, 5, 2], [17, 3, 7, 3], [3, 5, 2, 4]]) {
    const shapes = new Array(count).fill([batch, time, feat]);
    const xs = randomInputs(rng, shapes);
    for (const cls of ["Multiply", "Maximum", "Minimum"] as const) {
      const layer = buildMerge(cls, {}, shapes);
      const patterns: (HostMask | null)[][] = [
        xs.map(() => rowMask(rng, batch, time)),
        xs.map((_, i) => (i % 2 ? rowMask(rng, batch, time) : null)),
        xs.map((_, i) => (i % 2 ? null : rowMask(rng, batch, time))),
      ];
      for (const masks of patterns) {
        const { y } = runMerge(layer, xs, masks);
        const op = cls.toLowerCase() as "multiply" | "maximum" | "minimum";
        const want = mergeMaskedReference(
          op,
          xs.map((x) => x.data),
          masks.map((m) => m?.data ?? null),
          feat,
        );
        assertClose(y.data, want, 1e-6, `${cls} ${batch}×${time}×${feat} ×${count} masks`);
      }
      // Keras 2: values ignore masks.
      const k2 = buildMerge(cls, {}, shapes, "2.15.0");
      const plain = runMerge(k2, xs).y.data;
      const masked = runMerge(k2, xs, xs.map(() => rowMask(rng, batch, time))).y.data;
      assertClose(masked, plain, 0, `${cls} Keras 2 ignores masks in values`);
    }
  }
});
