/**
 * Helpers for the CNN layer tests: a Sequential spec around one or more layers, and a check
 * that the engine and TF.js (cpu) agree on random inputs.
 */
import { buildModel, type ModelSpec, Tensor, type WeightTensor } from "../mod.ts";
import { maxAbsDiff, type Rng } from "./random.ts";
import { tfjsModelFromSpec, tfjsPredict } from "./tfjs_reference.ts";

/** One layer of a test model: Keras class, config and weights (Keras order). */
export interface LayerCase {
  class_name: string;
  config: Record<string, unknown>;
  weights?: WeightTensor[];
}

/** A Sequential spec: an InputLayer of `inputShape` (no batch) followed by `layers`. */
export function sequentialSpec(inputShape: (number | null)[], layers: LayerCase[]): ModelSpec {
  const weights: Record<string, WeightTensor[]> = {};
  const objs: unknown[] = [{
    class_name: "InputLayer",
    config: { name: "input", batch_shape: [null, ...inputShape] },
  }];
  layers.forEach((l, i) => {
    const name = String(l.config.name ?? `${l.class_name.toLowerCase()}_${i}`);
    objs.push({ class_name: l.class_name, config: { ...l.config, name } });
    if (l.weights?.length) weights[name] = l.weights;
  });
  return {
    config: { class_name: "Sequential", config: { name: "cnn_case", layers: objs } },
    weights,
  } as ModelSpec;
}

/** A weight of `shape` with uniform values in [lo, hi). */
export function randomWeight(
  rng: Rng,
  name: string,
  shape: number[],
  lo = -1,
  hi = 1,
): WeightTensor {
  return { name, shape, data: rng.floats(shape.reduce((a, b) => a * b, 1), lo, hi) };
}

/**
 * Runs `spec` in the engine and in TF.js on random inputs of each shape in `inputShapes` (with
 * batch) and throws when the outputs differ by more than `tol` or the engine's output shape is not
 * `expectShape(inputShape)` (default: TF.js's output shape). Returns the largest difference.
 */
export function expectMatchesTfjs(
  spec: ModelSpec,
  inputShapes: number[][],
  rng: Rng,
  what: string,
  options: { tol?: number; expectShape?: (input: number[]) => number[] } = {},
): number {
  const tol = options.tol ?? 1e-5;
  const model = buildModel(spec);
  const tfm = tfjsModelFromSpec(spec);
  let worst = 0;
  try {
    for (const shape of inputShapes) {
      const x = rng.floats(shape.reduce((a, b) => a * b, 1), -2, 2);
      const got = model.predict(new Tensor(x, shape), { batchSize: 8 });
      const want = tfjsPredict(tfm, x, shape);
      const tfShape = (tfm.computeOutputShape([...shape]) as number[]).map((d, i) =>
        i === 0 ? shape[0] : d
      );
      const wantShape = options.expectShape?.(shape) ?? tfShape;
      if (got.shape.join() !== wantShape.join()) {
        throw new Error(`${what} input [${shape}]: shape [${got.shape}] vs [${wantShape}]`);
      }
      const d = maxAbsDiff(got.data, want);
      if (!(d <= tol)) throw new Error(`${what} input [${shape}]: max |Δ| = ${d} > ${tol}`);
      worst = Math.max(worst, d);
    }
  } finally {
    model.dispose();
    tfm.dispose();
  }
  return worst;
}

/**
 * Checks MaxPooling2D or AveragePooling2D against TF.js over a grid: valid/same × pool sizes
 * (pairs and an int) × strides (None, pairs, an int), on a 7×9×5 input with batch 1 and 17.
 */
export function expectPoolingGridMatchesTfjs(
  rng: Rng,
  className: "MaxPooling2D" | "AveragePooling2D",
): void {
  for (const padding of ["valid", "same"]) {
    for (const pool_size of [[2, 2], [3, 3], [2, 3], 3]) {
      for (const strides of [null, [1, 1], [2, 1], 2]) {
        const spec = sequentialSpec([7, 9, 5], [{
          class_name: className,
          config: { pool_size, strides, padding },
        }]);
        const what = `${className} ${padding} pool=${pool_size} s=${strides}`;
        expectMatchesTfjs(spec, [[1, 7, 9, 5], [17, 7, 9, 5]], rng, what);
      }
    }
  }
}

/**
 * Checks GlobalMaxPooling2D or GlobalAveragePooling2D against TF.js with keepdims false and true
 * on odd inputs, batch 1 and 17. TF.js has no keepdims: the values must be equal and the engine's
 * shape must keep the 1×1 when asked.
 */
export function expectGlobalPoolingMatchesTfjs(
  rng: Rng,
  className: "GlobalMaxPooling2D" | "GlobalAveragePooling2D",
): void {
  for (const input of [[7, 9, 5], [1, 1, 3], [4, 6, 16]]) {
    for (const keepdims of [false, true]) {
      const spec = sequentialSpec(input, [{ class_name: className, config: { keepdims } }]);
      const c = input[2];
      const expectShape = (s: number[]) => keepdims ? [s[0], 1, 1, c] : [s[0], c];
      const shapes = [[1, ...input], [17, ...input]];
      expectMatchesTfjs(spec, shapes, rng, `${className} ${input} keepdims=${keepdims}`, {
        expectShape,
      });
    }
  }
}
