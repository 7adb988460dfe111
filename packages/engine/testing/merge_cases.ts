/**
 * Runs merge layers (Add, Concatenate, Dot, …) directly, without a model graph: forward through
 * `callInputs`/`computeMasks` and backward through the registered training impl, on host arrays.
 * Shared by the merge layer and merge backward tests.
 */
import type { Layer } from "../src/layer.ts";
import { tf } from "./tfjs_reference.ts";
import { layerFactory } from "../src/registry.ts";
import { type DeviceTensor, sizeOf } from "../src/tensor.ts";
import type { TrainContext } from "../src/layer_training.ts";
import { trainingFor } from "../src/registry.ts";
import { getRuntime } from "../src/wasm/kernels.ts";

/** A host tensor: data and shape with batch. */
export interface HostTensor {
  data: Float32Array;
  shape: number[];
}

/** A host int32 mask with its shape ([batch, time]). */
export interface HostMask {
  data: Int32Array;
  shape: number[];
}

/** A built merge layer of `className` for inputs of these shapes (with batch). */
export function buildMerge(
  className: string,
  config: Record<string, unknown>,
  shapes: number[][],
  kerasVersion = "3.10.0",
): Layer {
  const factory = layerFactory(className);
  if (!factory) throw new Error(`${className} is not registered`);
  const layer = factory({ name: className.toLowerCase(), ...config }, { kerasVersion });
  layer.buildInputs(shapes.map((s) => s.slice(1)), [], getRuntime().heap);
  return layer;
}

function upload(t: HostTensor | HostMask): DeviceTensor {
  const { heap } = getRuntime();
  const dtype = t.data instanceof Int32Array ? "int32" : "float32";
  return { ptr: heap.upload(t.data), shape: [...t.shape], dtype };
}

/** A training context for calling backward impls directly. */
export function trainContext(): TrainContext {
  const { kernels, heap } = getRuntime();
  // Built as a variable (no excess-property check): `trainable` is part of newer contexts.
  const ctx = {
    kernels,
    heap,
    training: true as const,
    trainable: true,
    tape: new Map(),
    keep: (p: number) => p,
    seedFor: () => 1,
    sampleOffset: 0,
  };
  return ctx;
}

/** The layer's output and output mask for host inputs (and masks). */
export function runMerge(
  layer: Layer,
  xs: HostTensor[],
  masks: (HostMask | null)[] = [],
): { y: HostTensor; mask: HostMask | null } {
  const { kernels, heap } = getRuntime();
  const dx = xs.map(upload);
  const dm = xs.map((_, i) => (masks[i] ? upload(masks[i]!) : null));
  const owned = [...dx.map((t) => t.ptr), ...dm.flatMap((m) => (m ? [m.ptr] : []))];
  try {
    const y = layer.callInputs(dx, dm, { kernels, heap, training: false });
    owned.push(y.ptr);
    const m = layer.computeMasks(dx, dm);
    const mask = m ? { data: heap.i32(m.ptr, sizeOf(m.shape)).slice(), shape: [...m.shape] } : null;
    if (m && !owned.includes(m.ptr)) owned.push(m.ptr);
    return { y: { data: heap.f32(y.ptr, sizeOf(y.shape)).slice(), shape: [...y.shape] }, mask };
  } finally {
    for (const p of owned) heap.free(p);
  }
}

/**
 * ∂(Σ y·dy)/∂x_i for every input through the registered backward (`need` selects inputs; null
 * where not requested). Also checks that every requested gradient has its input's shape.
 */
export function mergeGradients(
  layer: Layer,
  xs: HostTensor[],
  dy: Float32Array,
  masks: (HostMask | null)[] = [],
  need: boolean[] = xs.map(() => true),
): (Float32Array | null)[] {
  const impl = trainingFor(layer.className);
  if (!impl) throw new Error(`no training impl for ${layer.className}`);
  const { heap } = getRuntime();
  const ctx = trainContext();
  const dx = xs.map(upload);
  const dm = xs.map((_, i) => (masks[i] ? upload(masks[i]!) : null));
  const owned = new Set([...dx.map((t) => t.ptr), ...dm.flatMap((m) => (m ? [m.ptr] : []))]);
  try {
    const y = (impl.forwardInputs
      ? impl.forwardInputs(layer, dx, dm, ctx)
      : layer.callInputs(dx, dm, ctx)) as DeviceTensor;
    owned.add(y.ptr);
    if (sizeOf(y.shape) !== dy.length) {
      throw new Error(`dy has ${dy.length} values, y ${y.shape}`);
    }
    const dyT: DeviceTensor = { ptr: heap.upload(dy), shape: [...y.shape], dtype: "float32" };
    owned.add(dyT.ptr);
    const res = impl.backward(layer, {
      x: dx[0],
      y,
      mask: dm[0],
      xs: dx,
      masks: dm,
      dy: dyT,
      dys: [dyT],
      ys: [y],
      dyIsPreActivation: false,
      weights: [],
      grads: [],
      needInputGrad: need.some(Boolean),
      needInputGrads: need,
      ctx,
    });
    const list = Array.isArray(res) ? res : [res];
    return xs.map((x, i) => {
      const g = list[i] ?? null;
      if (!need[i]) {
        return null;
      }
      if (!g) {
        throw new Error(`${layer.className}: no gradient for input ${i}`);
      }
      owned.add(g.ptr);
      if (g.shape.join() !== x.shape.join()) {
        throw new Error(`${layer.className}: gradient ${i} has shape ${g.shape}, input ${x.shape}`);
      }
      return heap.f32(g.ptr, sizeOf(x.shape)).slice();
    });
  } finally {
    for (const p of owned) heap.free(p);
  }
}

/**
 * Central finite differences of Σ y·dy with respect to every input value, in float64 around the
 * float32 forward (step `h`).
 */
export function mergeFiniteDifferences(
  layer: Layer,
  xs: HostTensor[],
  dy: Float32Array,
  masks: (HostMask | null)[] = [],
  h = 1e-2,
): Float32Array[] {
  const loss = (inputs: HostTensor[]) => {
    const y = runMerge(layer, inputs, masks).y.data;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * dy[i];
    return s;
  };
  return xs.map((x, i) => {
    const g = new Float32Array(x.data.length);
    for (let j = 0; j < x.data.length; j++) {
      const at = (v: number) => {
        const data = x.data.slice();
        data[j] = v;
        return loss(xs.map((t, k) => (k === i ? { data, shape: t.shape } : t)));
      };
      g[j] = (at(x.data[j] + h) - at(x.data[j] - h)) / (2 * h);
    }
    return g;
  });
}

/** A TF.js merge layer applied to the inputs (Subtract: tf.sub, TF.js has no Subtract layer). */
export function tfjsMerge(
  className: string,
  config: Record<string, unknown>,
  ts: tf.Tensor[],
): tf.Tensor {
  const L = tf.layers;
  switch (className) {
    case "Subtract":
      return tf.sub(ts[0], ts[1]);
    case "Add":
      return L.add().apply(ts) as tf.Tensor;
    case "Multiply":
      return L.multiply().apply(ts) as tf.Tensor;
    case "Average":
      return L.average().apply(ts) as tf.Tensor;
    case "Maximum":
      return L.maximum().apply(ts) as tf.Tensor;
    case "Minimum":
      return L.minimum().apply(ts) as tf.Tensor;
    case "Concatenate":
      return L.concatenate({ axis: (config.axis as number | undefined) ?? -1 }).apply(
        ts,
      ) as tf.Tensor;
    case "Dot":
      return L.dot({
        axes: config.axes as number | [number, number],
        normalize: (config.normalize as boolean | undefined) ?? false,
      }).apply(ts) as tf.Tensor;
  }
  throw new Error(`no TF.js merge for ${className}`);
}

/** [class, config, input shapes without batch] cases shared with the backward tests. */
export const MERGE_CASES: [string, Record<string, unknown>, number[][]][] = [
  ...["Add", "Multiply", "Average", "Maximum", "Minimum"].flatMap((
    c,
  ): [string, Record<string, unknown>, number[][]][] => [
    [c, {}, [[7], [7]]],
    [c, {}, [[3, 5], [3, 5], [3, 5]]],
    [c, {}, [[3, 5], [1, 5]]], // broadcast a size-1 dim
    [c, {}, [[4, 1, 3], [4, 6, 1]]], // both broadcast
    [c, {}, [[4, 3], [3]]], // lower rank: Keras expands after the batch axis
  ]),
  ["Subtract", {}, [[7], [7]]],
  ["Subtract", {}, [[3, 5], [3, 1]]],
  ["Concatenate", {}, [[3], [5]]],
  ["Concatenate", { axis: -1 }, [[2, 3], [2, 5], [2, 1]]],
  ["Concatenate", { axis: 1 }, [[2, 3], [5, 3]]],
  ["Concatenate", { axis: 2 }, [[4, 3, 5], [4, 2, 5]]],
  ["Concatenate", { axis: 1 }, [[1, 3, 5], [3, 3, 5]]],
  ["Dot", { axes: 1 }, [[7], [7]]],
  ["Dot", { axes: -1 }, [[3, 5], [4, 5]]],
  ["Dot", { axes: [2, 2] }, [[3, 5], [4, 5]]],
  ["Dot", { axes: [1, 2] }, [[5, 3], [4, 5]]],
  ["Dot", { axes: [1, 1] }, [[5, 3], [5, 2]]],
  ["Dot", { axes: [2, 1] }, [[3, 5], [5]]],
  ["Dot", { axes: 1, normalize: true }, [[7], [7]]],
  ["Dot", { axes: [1, 2], normalize: true }, [[5, 3], [4, 5]]],
  ["Dot", { axes: [2, 2], normalize: true }, [[3, 9], [2, 9]]],
];
