/**
 * Architecture replicas of `keras.applications` families built with TF.js's layers API and random
 * weights: MobileNetV2 (α), ResNet50, InceptionV3, DenseNet121, EfficientNetB0 and Xception. Each
 * follows the Keras 3 builder (`keras/src/applications/*.py`) layer for layer — same layer
 * classes, configs, names (Keras's auto names `conv2d_N` / `batch_normalization_N` where Keras
 * leaves a layer unnamed), padding rules (`correct_pad`), BatchNormalization epsilons and
 * merges — with knobs to shrink it for the CI tier:
 *
 * - `inputSize`: square input side (Keras's defaults 224, 299 for InceptionV3 / Xception);
 * - `width`: channel multiplier (MobileNetV2's α with Keras's `_make_divisible`; EfficientNet's
 *   `width_coefficient` with `round_filters`; other families scale every filter count);
 * - `depthScale`: fraction of the repeated blocks kept per stage (at least one; EfficientNet's
 *   `depth_coefficient` with `round_repeats`);
 * - `classes`: size of the softmax head (Keras's 1000).
 *
 * At `width: 1, depthScale: 1, classes: 1000` and the default input size a replica has the real
 * family's layer list and parameter count. One difference: TF.js has no `Normalization` layer, so
 * EfficientNetB0 either leaves Keras's `Normalization` (after `Rescaling(1/255)`) out, or with
 * `normalization: true` holds a stand-in computing the same per-channel map — a 1×1
 * DepthwiseConv2D `normalization` with kernel 1/√variance and bias −mean/√variance (ImageNet
 * statistics) — which {@link withKerasNormalization} turns back into Keras's adapted
 * `Normalization` layer (mean, variance, count) in the engine's spec.
 *
 * Weights: kernels variance-preserving uniform (He for convolutions, `1/fan_in` for the head),
 * biases / beta in [-0.1, 0.1], gamma in [0.8, 1.2]; every BatchNormalization's moving statistics
 * are *calibrated and then perturbed*: the statistics of the layer's real input on a calibration
 * batch, the mean shifted by up to ±0.2 σ and the variance scaled by [0.6, 1.4] — so BN matters
 * (not 0/1) and activations stay O(1) through 100+ layers as in a trained network, which keeps
 * the softmax neither uniform nor saturated (a meaningful |Δp| and argmax check).
 *
 * @module
 */
import type { ModelSpec } from "../mod.ts";
import { type HostTensor, shortWeightName } from "./tfjs_graphs.ts";
import { Rng } from "./random.ts";
import { tf } from "./tfjs_reference.ts";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

// deno-lint-ignore no-explicit-any
type Any = any;
type Sym = tf.SymbolicTensor;

/** Size knobs shared by every family (see the module doc). */
export interface ApplicationOptions {
  /** Square input side (default: the family's Keras default, 224 or 299). */
  inputSize?: number;
  /** Channel multiplier: MobileNetV2's α, EfficientNet's width coefficient (default 1). */
  width?: number;
  /** Fraction of each stage's repeated blocks kept, at least one per stage (default 1). */
  depthScale?: number;
  /** Classes of the softmax head (default 1000). */
  classes?: number;
  /** Seed of the weights and of the BatchNormalization calibration batch (default 1). */
  seed?: number;
  /**
   * Keras's `include_top` (default true): false ends the model at its last feature map (Keras's
   * `include_top=False, pooling=None`), the base of transfer learning.
   */
  includeTop?: boolean;
  /**
   * Images the BatchNormalization statistics are calibrated on (default: 32 generated images up
   * to 96 px, 8 above). Passing the evaluation images gives every channel statistics of data it
   * sees, as a network trained on that data has — a channel that only fires on a pattern absent
   * from the calibration images would otherwise be normalized by a tiny variance and amplify its
   * input (and float rounding) ×100.
   */
  calibration?: HostTensor;
}

/** One family: its builder, Keras default input size and what its inputs look like. */
export interface ApplicationFamily {
  /** Keras's name of the architecture (`MobileNetV2`, `ResNet50`, …). */
  name: string;
  /** Builds the replica with random, calibrated weights. */
  build(options?: ApplicationOptions): tf.LayersModel;
  /** Keras's default input side. */
  defaultSize: number;
  /** Smallest input side Keras accepts for the family. */
  minSize: number;
  /** Pixel range of the inputs it expects (`[0, 255]` for EfficientNet's Rescaling). */
  pixelRange: [number, number];
}

// ---- TF.js backend ---------------------------------------------------------------------------

let wasmPathSet = false;

/**
 * Switches TF.js to `backend`: `"wasm"` (XNNPACK, single-threaded SIMD build under Deno — the
 * package's binaries are loaded from its `wasm-out/`, as `bench/tfjs_backends.ts` does) or
 * `"cpu"`. Models built afterwards keep their weights in that backend.
 */
export async function useApplicationBackend(backend: "wasm" | "cpu"): Promise<void> {
  if (tf.getBackend() === backend) return;
  if (backend === "wasm" && !wasmPathSet) {
    const entry = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
    setWasmPaths(new URL("../wasm-out/", entry).pathname);
    wasmPathSet = true;
  }
  await tf.setBackend(backend);
  await tf.ready();
}

// ---- inputs -----------------------------------------------------------------------------------

/**
 * `batch` RGB images of `size`×`size` in `[lo, hi]`: per image a random colour, a random linear
 * gradient and a checker of random period, plus noise — structured enough that different images
 * give different predictions.
 */
export function applicationInputs(
  rng: Rng,
  batch: number,
  size: number,
  [lo, hi]: [number, number] = [-1, 1],
): HostTensor {
  const data = new Float32Array(batch * size * size * 3);
  for (let b = 0; b < batch; b++) {
    const base = [0, 1, 2].map(() => rng.uniform(0.2, 0.8));
    const gx = [0, 1, 2].map(() => rng.uniform(-0.3, 0.3));
    const gy = [0, 1, 2].map(() => rng.uniform(-0.3, 0.3));
    const period = rng.int(2, 9);
    const amp = rng.uniform(0, 0.2);
    for (let i = 0; i < size; i++) {
      for (let j = 0; j < size; j++) {
        const checker = ((Math.floor(i / period) + Math.floor(j / period)) % 2) * 2 - 1;
        for (let c = 0; c < 3; c++) {
          let v = base[c] + gx[c] * (j / size - 0.5) + gy[c] * (i / size - 0.5) +
            amp * checker + rng.uniform(-0.1, 0.1);
          v = Math.min(1, Math.max(0, v));
          data[((b * size + i) * size + j) * 3 + c] = lo + (hi - lo) * v;
        }
      }
    }
  }
  return { data, shape: [batch, size, size, 3] };
}

// ---- weights ----------------------------------------------------------------------------------

/** Fan-in of a kernel: receptive field × input channels (depthwise: receptive field only). */
function fanIn(name: string, shape: number[]): number {
  const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
  if (name === "depthwise_kernel") return receptive;
  return receptive * shape[shape.length - 2];
}

/** Draw range of a fresh weight (BatchNormalization statistics are calibrated separately). */
function initRange(name: string, shape: number[], isDense: boolean): [number, number] {
  if (/kernel$/.test(name)) {
    const l = Math.sqrt((isDense ? 3 : 6) / fanIn(name, shape));
    return [-l, l];
  }
  if (name === "gamma") return [0.8, 1.2];
  if (name === "moving_variance") return [1, 1];
  if (name === "moving_mean") return [0, 0];
  return [-0.1, 0.1];
}

function leafLayers(model: tf.LayersModel): tf.layers.Layer[] {
  return model.layers.filter((l) => !(l instanceof tf.LayersModel));
}

/**
 * Draws every weight of `model` from `rng` (see the module doc), BatchNormalization moving
 * statistics at 0 / 1 until {@link calibrateBatchNorm} sets them.
 */
export function randomizeApplication(model: tf.LayersModel, rng: Rng): void {
  for (const layer of leafLayers(model)) {
    if (!layer.weights.length) continue;
    const isDense = layer.getClassName() === "Dense";
    const values = layer.weights.map((v) => {
      const shape = v.shape as number[];
      const [lo, hi] = initRange(shortWeightName(v, layer.name), shape, isDense);
      const n = shape.reduce((a, b) => a * b, 1);
      return tf.tensor(lo === hi ? new Float32Array(n).fill(lo) : rng.floats(n, lo, hi), shape);
    });
    layer.setWeights(values);
    values.forEach((t) => t.dispose());
  }
}

/**
 * Runs `model` node by node on `x` and, at each BatchNormalization, sets its moving statistics to
 * those of its actual input (mean and variance over batch, height and width) perturbed by `rng`:
 * mean + u·0.2·σ (u ∈ [-1, 1]), variance (floored at a tenth of the layer's mean variance) ×
 * [0.6, 1.4]. Intermediate tensors are released after their last use, so a full-size model
 * calibrates in one pass.
 */
export function calibrateBatchNorm(model: tf.LayersModel, x: tf.Tensor, rng: Rng): void {
  const uses = new Map<number, number>();
  const visit = new Set<number>();
  const count = (s: Sym) => {
    if (visit.has(s.id)) return;
    visit.add(s.id);
    const node = (s.sourceLayer as Any).inboundNodes[s.nodeIndex];
    if (model.inputs.some((i) => i.id === s.id)) return;
    for (const t of node.inputTensors as Sym[]) {
      uses.set(t.id, (uses.get(t.id) ?? 0) + 1);
      count(t);
    }
  };
  model.outputs.forEach(count);
  const memo = new Map<number, tf.Tensor>();
  memo.set(model.inputs[0].id, x);
  const release = (s: Sym) => {
    const left = (uses.get(s.id) ?? 1) - 1;
    uses.set(s.id, left);
    if (left === 0 && s.id !== model.inputs[0].id) {
      memo.get(s.id)?.dispose();
      memo.delete(s.id);
    }
  };
  const evaluate = (s: Sym): tf.Tensor => {
    const hit = memo.get(s.id);
    if (hit) return hit;
    const layer = s.sourceLayer as tf.layers.Layer;
    const node = (layer as Any).inboundNodes[s.nodeIndex];
    const inSyms = node.inputTensors as Sym[];
    const ins = inSyms.map(evaluate);
    if (layer.getClassName() === "BatchNormalization") setStatistics(layer, ins[0], rng);
    const out = tf.tidy(() => {
      const y = layer.apply(ins.length === 1 ? ins[0] : ins, { ...(node.callArgs ?? {}) });
      return (Array.isArray(y) ? y : [y]) as tf.Tensor[];
    });
    (node.outputTensors as Sym[]).forEach((o, i) => memo.set(o.id, out[i]));
    inSyms.forEach(release);
    return memo.get(s.id)!;
  };
  model.outputs.forEach((o) => evaluate(o).dispose());
  for (const [id, t] of memo) if (id !== model.inputs[0].id) t.dispose();
}

function setStatistics(layer: tf.layers.Layer, input: tf.Tensor, rng: Rng): void {
  const axes = [...Array(input.rank - 1).keys()];
  const { mean, variance } = tf.moments(input, axes);
  const m = mean.dataSync() as Float32Array;
  const v = variance.dataSync() as Float32Array;
  mean.dispose();
  variance.dispose();
  // A channel almost constant on the calibration images (e.g. swish far below zero) would get a
  // tiny variance and BN would amplify every other image's deviation on it ×100 or more:
  // variances are floored at a tenth of the layer's mean variance.
  const floor = Math.max(0.1 * v.reduce((a, b) => a + b, 0) / v.length, 1e-4);
  const values = layer.getWeights().map((w, i) => {
    const name = shortWeightName(layer.weights[i], layer.name);
    if (name === "moving_mean") {
      return tf.tensor(m.map((mu, c) => mu + rng.uniform(-0.2, 0.2) * Math.sqrt(v[c])), w.shape);
    }
    if (name === "moving_variance") {
      return tf.tensor(v.map((s) => Math.max(s, floor) * rng.uniform(0.6, 1.4)), w.shape);
    }
    return w.clone();
  });
  layer.setWeights(values);
  values.forEach((t) => t.dispose());
}

/**
 * Random weights, then BatchNormalization statistics calibrated on `options.calibration` or
 * generated images of the family: 32 for inputs up to 96 px (deep layers of small inputs have 1×1 maps, where a few images would give
 * noisy, tiny variances that turn BN into a ×100 amplifier), 8 above.
 */
function finish(
  model: tf.LayersModel,
  options: ApplicationOptions,
  size: number,
  range: [number, number],
  fixed?: () => void,
): tf.LayersModel {
  const seed = options.seed ?? 1;
  const rng = new Rng(seed);
  randomizeApplication(model, rng);
  fixed?.();
  const cal = options.calibration ??
    applicationInputs(new Rng(seed + 7919), size <= 96 ? 32 : 8, size, range);
  const x = tf.tensor(cal.data, cal.shape);
  calibrateBatchNorm(model, x, rng);
  x.dispose();
  return model;
}

// ---- building blocks --------------------------------------------------------------------------

const apply = (layer: tf.layers.Layer, x: Sym | Sym[]) => layer.apply(x) as Sym;

/** Keras's auto names for unnamed layers (`conv2d`, `conv2d_1`, …), per model. */
class AutoNames {
  #n = new Map<string, number>();
  next(base: string): string {
    const i = this.#n.get(base) ?? 0;
    this.#n.set(base, i + 1);
    return i === 0 ? base : `${base}_${i}`;
  }
}

interface ConvArgs {
  strides?: number;
  padding?: "same" | "valid";
  useBias?: boolean;
  activation?: string;
}

function conv(
  name: string,
  filters: number,
  kernel: number | [number, number],
  { strides = 1, padding = "valid", useBias = true, activation = "linear" }: ConvArgs = {},
): tf.layers.Layer {
  return tf.layers.conv2d({
    name,
    filters,
    kernelSize: kernel,
    strides,
    padding,
    useBias,
    activation: activation as Any,
  });
}

function bn(name: string, epsilon = 1e-3, extra: Record<string, unknown> = {}): tf.layers.Layer {
  return tf.layers.batchNormalization({ name, axis: 3, epsilon, ...extra });
}

const act = (name: string, activation: string) =>
  tf.layers.activation({ name, activation: activation as Any });

/** Keras `imagenet_utils.correct_pad` for a square static input of side `side`. */
function correctPad(side: number, kernel: number): [[number, number], [number, number]] {
  const adjust = 1 - (side % 2);
  const c = Math.floor(kernel / 2);
  return [[c - adjust, c], [c - adjust, c]];
}

const side = (x: Sym) => x.shape[1] as number;
const channels = (x: Sym) => x.shape[3] as number;

function input(size: number): Sym {
  return tf.input({ name: "input_layer", shape: [size, size, 3] });
}

/** GlobalAveragePooling2D → Dense softmax `predictions`, or `x` itself without the top. */
function head(x: Sym, options: ApplicationOptions, pool = "avg_pool"): Sym {
  const { classes = 1000, includeTop = true } = options;
  if (!includeTop) return x;
  const pooled = apply(tf.layers.globalAveragePooling2d({ name: pool }), x);
  return apply(
    tf.layers.dense({ name: "predictions", units: classes, activation: "softmax" }),
    pooled,
  );
}

/** Scaled repeat count: `round(n · scale)`, at least `min`. */
function repeats(n: number, scale: number, min = 1): number {
  return Math.max(min, Math.round(n * scale));
}

/** Scaled filter count: `round(n · width)`, at least 1. */
function scaled(n: number, width: number): number {
  return Math.max(1, Math.round(n * width));
}

// ---- MobileNetV2 ------------------------------------------------------------------------------

/** Keras's `_make_divisible` (MobileNetV2 / EfficientNet channel rounding). */
export function makeDivisible(v: number, divisor = 8, minValue = divisor): number {
  let out = Math.max(minValue, Math.floor((v + divisor / 2) / divisor) * divisor);
  if (out < 0.9 * v) out += divisor;
  return out;
}

/** MobileNetV2's inverted residual stages: [filters, first stride, expansion, repeats]. */
const MOBILENET_V2_STAGES: [number, number, number, number][] = [
  [16, 1, 1, 1],
  [24, 2, 6, 2],
  [32, 2, 6, 3],
  [64, 2, 6, 4],
  [96, 1, 6, 3],
  [160, 2, 6, 3],
  [320, 1, 6, 1],
];

/**
 * `keras.applications.MobileNetV2(alpha=width)`: Conv1 (3×3/2 same, no bias) → bn_Conv1 →
 * ReLU(6), 17 inverted residual blocks (`block_{i}_expand` 1×1 → BN → ReLU6, `block_{i}_pad`
 * ZeroPadding2D(correct_pad) before a stride-2 3×3 DepthwiseConv2D, `_depthwise` → BN → ReLU6,
 * `_project` 1×1 → BN, `_add` when shapes allow; block 0 is `expanded_conv_` without expansion),
 * Conv_1 (1280 channels, or `_make_divisible(1280·α)` for α > 1) → Conv_1_bn → out_relu → GAP →
 * predictions. BatchNormalization epsilon 1e-3, momentum 0.999.
 */
export function mobileNetV2(options: ApplicationOptions = {}): tf.LayersModel {
  const { inputSize = 224, width = 1, depthScale = 1 } = options;
  const alpha = width;
  const bnm = (name: string) => bn(name, 1e-3, { momentum: 0.999 });
  const relu6 = (name: string) => tf.layers.reLU({ name, maxValue: 6 });
  const img = input(inputSize);
  let x = apply(
    conv("Conv1", makeDivisible(32 * alpha), 3, { strides: 2, padding: "same", useBias: false }),
    img,
  );
  x = apply(relu6("Conv1_relu"), apply(bnm("bn_Conv1"), x));
  let blockId = 0;
  for (const [filters, stride, expansion, n] of MOBILENET_V2_STAGES) {
    for (let j = 0; j < repeats(n, depthScale); j++) {
      const inputs = x;
      const inChannels = channels(x);
      const pointwise = makeDivisible(Math.trunc(filters * alpha));
      const s = j === 0 ? stride : 1;
      let prefix = "expanded_conv_";
      if (blockId) {
        prefix = `block_${blockId}_`;
        x = apply(
          conv(`${prefix}expand`, expansion * inChannels, 1, { padding: "same", useBias: false }),
          x,
        );
        x = apply(relu6(`${prefix}expand_relu`), apply(bnm(`${prefix}expand_BN`), x));
      }
      if (s === 2) {
        x = apply(
          tf.layers.zeroPadding2d({ name: `${prefix}pad`, padding: correctPad(side(x), 3) }),
          x,
        );
      }
      x = apply(
        tf.layers.depthwiseConv2d({
          name: `${prefix}depthwise`,
          kernelSize: 3,
          strides: s,
          useBias: false,
          padding: s === 1 ? "same" : "valid",
        }),
        x,
      );
      x = apply(relu6(`${prefix}depthwise_relu`), apply(bnm(`${prefix}depthwise_BN`), x));
      x = apply(conv(`${prefix}project`, pointwise, 1, { padding: "same", useBias: false }), x);
      x = apply(bnm(`${prefix}project_BN`), x);
      if (inChannels === pointwise && s === 1) {
        x = apply(tf.layers.add({ name: `${prefix}add` }), [inputs, x]);
      }
      blockId++;
    }
  }
  const last = alpha > 1 ? makeDivisible(1280 * alpha) : 1280;
  x = apply(conv("Conv_1", last, 1, { useBias: false }), x);
  x = apply(relu6("out_relu"), apply(bnm("Conv_1_bn"), x));
  const model = tf.model({
    name: `mobilenetv2_${alpha.toFixed(2)}_${inputSize}`,
    inputs: img,
    outputs: head(x, options, "global_average_pooling2d"),
  });
  return finish(model, options, inputSize, [-1, 1]);
}

// ---- ResNet50 ---------------------------------------------------------------------------------

/**
 * `keras.applications.ResNet50`: conv1_pad (3) → conv1_conv 7×7/2 → conv1_bn → conv1_relu →
 * pool1_pad (1) → pool1_pool 3×3/2, then stacks conv2..conv5 of [3, 4, 6, 3] bottleneck blocks
 * (64, 128, 256, 512 filters; `_1_conv` 1×1 (stride on the first block of a stack) → `_2_conv` 3×3
 * same → `_3_conv` 1×1 ×4, a `_0_conv` projection shortcut on each stack's first block, `_add` →
 * `_out` ReLU), avg_pool → predictions. BatchNormalization epsilon 1.001e-5; convolutions with
 * bias.
 */
export function resNet50(options: ApplicationOptions = {}): tf.LayersModel {
  const { inputSize = 224, width = 1, depthScale = 1 } = options;
  const eps = 1.001e-5;
  const img = input(inputSize);
  let x = apply(tf.layers.zeroPadding2d({ name: "conv1_pad", padding: [[3, 3], [3, 3]] }), img);
  x = apply(conv("conv1_conv", scaled(64, width), 7, { strides: 2 }), x);
  x = apply(act("conv1_relu", "relu"), apply(bn("conv1_bn", eps), x));
  x = apply(tf.layers.zeroPadding2d({ name: "pool1_pad", padding: [[1, 1], [1, 1]] }), x);
  x = apply(tf.layers.maxPooling2d({ name: "pool1_pool", poolSize: 3, strides: 2 }), x);
  const block = (x: Sym, filters: number, stride: number, shortcutConv: boolean, name: string) => {
    let shortcut = x;
    if (shortcutConv) {
      shortcut = apply(conv(`${name}_0_conv`, 4 * filters, 1, { strides: stride }), x);
      shortcut = apply(bn(`${name}_0_bn`, eps), shortcut);
    }
    let h = apply(conv(`${name}_1_conv`, filters, 1, { strides: stride }), x);
    h = apply(act(`${name}_1_relu`, "relu"), apply(bn(`${name}_1_bn`, eps), h));
    h = apply(conv(`${name}_2_conv`, filters, 3, { padding: "same" }), h);
    h = apply(act(`${name}_2_relu`, "relu"), apply(bn(`${name}_2_bn`, eps), h));
    h = apply(conv(`${name}_3_conv`, 4 * filters, 1), h);
    h = apply(bn(`${name}_3_bn`, eps), h);
    h = apply(tf.layers.add({ name: `${name}_add` }), [shortcut, h]);
    return apply(act(`${name}_out`, "relu"), h);
  };
  const stacks: [number, number, number, string][] = [
    [64, 3, 1, "conv2"],
    [128, 4, 2, "conv3"],
    [256, 6, 2, "conv4"],
    [512, 3, 2, "conv5"],
  ];
  for (const [filters, n, stride, name] of stacks) {
    const f = scaled(filters, width);
    x = block(x, f, stride, true, `${name}_block1`);
    for (let i = 2; i <= repeats(n, depthScale); i++) {
      x = block(x, f, 1, false, `${name}_block${i}`);
    }
  }
  const model = tf.model({ name: "resnet50", inputs: img, outputs: head(x, options) });
  return finish(model, options, inputSize, [-1, 1]);
}

// ---- InceptionV3 ------------------------------------------------------------------------------

/**
 * `keras.applications.InceptionV3`: `conv2d_bn` units (Conv2D without bias → BatchNormalization
 * with `scale=False` → ReLU, Keras's auto names) in the stem (3×3/2 valid, 3×3 valid, 3×3 same,
 * max-pool, 1×1 valid, 3×3 valid, max-pool), mixed0–2 (35×35 blocks: 1×1, 5×5, double 3×3 and an
 * AveragePooling2D(3, 1, same) branch), mixed3 (reduction), mixed4–7 (17×17 blocks with factorised
 * 1×7 / 7×1 convolutions; 128, 160, 160, 192 channels), mixed8 (reduction), mixed9–10 (8×8
 * blocks with the 1×3 / 3×1 split concatenated as `mixed9_0` and an unnamed Concatenate), avg_pool
 * → predictions. `depthScale` keeps `round(3·d)` of mixed0–2, `round(2·d)` of the 160-channel
 * mixed5–6 and `round(2·d)` of mixed9–10 (at least one); mixed names stay sequential.
 */
export function inceptionV3(options: ApplicationOptions = {}): tf.LayersModel {
  const { inputSize = 299, width = 1, depthScale = 1 } = options;
  const names = new AutoNames();
  const f = (n: number) => scaled(n, width);
  const cb = (
    x: Sym,
    filters: number,
    rows: number,
    cols: number,
    padding: "same" | "valid" = "same",
    strides = 1,
  ) => {
    let h = apply(
      conv(names.next("conv2d"), f(filters), [rows, cols], { strides, padding, useBias: false }),
      x,
    );
    h = apply(bn(names.next("batch_normalization"), 1e-3, { scale: false }), h);
    return apply(act(names.next("activation"), "relu"), h);
  };
  const avg = (x: Sym) =>
    apply(
      tf.layers.averagePooling2d({
        name: names.next("average_pooling2d"),
        poolSize: 3,
        strides: 1,
        padding: "same",
      }),
      x,
    );
  const maxPool = (x: Sym) =>
    apply(
      tf.layers.maxPooling2d({ name: names.next("max_pooling2d"), poolSize: 3, strides: 2 }),
      x,
    );
  const cat = (xs: Sym[], name: string) => apply(tf.layers.concatenate({ name, axis: 3 }), xs);
  let mixed = 0;
  const nextMixed = () => `mixed${mixed++}`;

  const img = input(inputSize);
  let x = cb(img, 32, 3, 3, "valid", 2);
  x = cb(x, 32, 3, 3, "valid");
  x = cb(x, 64, 3, 3);
  x = maxPool(x);
  x = cb(x, 80, 1, 1, "valid");
  x = cb(x, 192, 3, 3, "valid");
  x = maxPool(x);
  // mixed 0, 1, 2: 35 × 35 × 256 / 288
  for (let i = 0; i < repeats(3, depthScale); i++) {
    const b1 = cb(x, 64, 1, 1);
    const b5 = cb(cb(x, 48, 1, 1), 64, 5, 5);
    const b3 = cb(cb(cb(x, 64, 1, 1), 96, 3, 3), 96, 3, 3);
    const bp = cb(avg(x), i === 0 ? 32 : 64, 1, 1);
    x = cat([b1, b5, b3, bp], nextMixed());
  }
  // mixed 3: 17 × 17 × 768
  {
    const b3 = cb(x, 384, 3, 3, "valid", 2);
    const bd = cb(cb(cb(x, 64, 1, 1), 96, 3, 3), 96, 3, 3, "valid", 2);
    const bp = maxPool(x);
    x = cat([b3, bd, bp], nextMixed());
  }
  // mixed 4 (128), 5–6 (160), 7 (192): 17 × 17 × 768
  const seven = (x: Sym, c: number) => {
    const b1 = cb(x, 192, 1, 1);
    const b7 = cb(cb(cb(x, c, 1, 1), c, 1, 7), 192, 7, 1);
    let bd = cb(cb(x, c, 1, 1), c, 7, 1);
    bd = cb(cb(cb(bd, c, 1, 7), c, 7, 1), 192, 1, 7);
    const bp = cb(avg(x), 192, 1, 1);
    return cat([b1, b7, bd, bp], nextMixed());
  };
  x = seven(x, 128);
  for (let i = 0; i < repeats(2, depthScale, 0); i++) x = seven(x, 160);
  x = seven(x, 192);
  // mixed 8: 8 × 8 × 1280
  {
    const b3 = cb(cb(x, 192, 1, 1), 320, 3, 3, "valid", 2);
    let b7 = cb(cb(cb(x, 192, 1, 1), 192, 1, 7), 192, 7, 1);
    b7 = cb(b7, 192, 3, 3, "valid", 2);
    x = cat([b3, b7, maxPool(x)], nextMixed());
  }
  // mixed 9, 10: 8 × 8 × 2048
  for (let i = 0; i < repeats(2, depthScale); i++) {
    const b1 = cb(x, 320, 1, 1);
    const b3 = cb(x, 384, 1, 1);
    const b3split = cat([cb(b3, 384, 1, 3), cb(b3, 384, 3, 1)], `mixed9_${i}`);
    const bd = cb(cb(x, 448, 1, 1), 384, 3, 3);
    const bdsplit = cat([cb(bd, 384, 1, 3), cb(bd, 384, 3, 1)], names.next("concatenate"));
    const bp = cb(avg(x), 192, 1, 1);
    x = cat([b1, b3split, bdsplit, bp], nextMixed());
  }
  const model = tf.model({ name: "inception_v3", inputs: img, outputs: head(x, options) });
  return finish(model, options, inputSize, [-1, 1]);
}

// ---- DenseNet121 ------------------------------------------------------------------------------

/**
 * `keras.applications.DenseNet121`: zero_padding2d (3) → conv1_conv 7×7/2 (no bias) → conv1_bn →
 * conv1_relu → zero_padding2d_1 (1) → pool1 (max 3×3/2), dense blocks conv2..conv5 of [6, 12,
 * 24, 16] conv blocks (`_0_bn` → `_0_relu` → `_1_conv` 1×1 (4·growth) → `_1_bn` → `_1_relu` →
 * `_2_conv` 3×3 same (growth 32) → `_concat` with the block input) and transition blocks
 * pool2..pool4 (BN → ReLU → 1×1 conv to half the channels → AveragePooling2D 2×2/2), bn → relu →
 * avg_pool → predictions. BatchNormalization epsilon 1.001e-5.
 */
export function denseNet121(options: ApplicationOptions = {}): tf.LayersModel {
  const { inputSize = 224, width = 1, depthScale = 1 } = options;
  const eps = 1.001e-5;
  const growth = scaled(32, width);
  const img = input(inputSize);
  let x = apply(
    tf.layers.zeroPadding2d({ name: "zero_padding2d", padding: [[3, 3], [3, 3]] }),
    img,
  );
  x = apply(conv("conv1_conv", scaled(64, width), 7, { strides: 2, useBias: false }), x);
  x = apply(act("conv1_relu", "relu"), apply(bn("conv1_bn", eps), x));
  x = apply(tf.layers.zeroPadding2d({ name: "zero_padding2d_1", padding: [[1, 1], [1, 1]] }), x);
  x = apply(tf.layers.maxPooling2d({ name: "pool1", poolSize: 3, strides: 2 }), x);
  const blocks = [6, 12, 24, 16];
  blocks.forEach((n, stage) => {
    for (let i = 1; i <= repeats(n, depthScale); i++) {
      const name = `conv${stage + 2}_block${i}`;
      let h = apply(act(`${name}_0_relu`, "relu"), apply(bn(`${name}_0_bn`, eps), x));
      h = apply(conv(`${name}_1_conv`, 4 * growth, 1, { useBias: false }), h);
      h = apply(act(`${name}_1_relu`, "relu"), apply(bn(`${name}_1_bn`, eps), h));
      h = apply(conv(`${name}_2_conv`, growth, 3, { padding: "same", useBias: false }), h);
      x = apply(tf.layers.concatenate({ name: `${name}_concat`, axis: 3 }), [x, h]);
    }
    if (stage < blocks.length - 1) {
      const name = `pool${stage + 2}`;
      x = apply(act(`${name}_relu`, "relu"), apply(bn(`${name}_bn`, eps), x));
      x = apply(conv(`${name}_conv`, Math.trunc(channels(x) * 0.5), 1, { useBias: false }), x);
      x = apply(tf.layers.averagePooling2d({ name: `${name}_pool`, poolSize: 2, strides: 2 }), x);
    }
  });
  x = apply(act("relu", "relu"), apply(bn("bn", eps), x));
  const model = tf.model({ name: "densenet121", inputs: img, outputs: head(x, options) });
  return finish(model, options, inputSize, [-1, 1]);
}

// ---- EfficientNetB0 ---------------------------------------------------------------------------

/** EfficientNet's MBConv stages: [kernel, repeats, filters in, filters out, expand, stride]. */
const EFFICIENTNET_STAGES: [number, number, number, number, number, number][] = [
  [3, 1, 32, 16, 1, 1],
  [3, 2, 16, 24, 6, 2],
  [5, 2, 24, 40, 6, 2],
  [3, 3, 40, 80, 6, 2],
  [5, 3, 80, 112, 6, 1],
  [5, 4, 112, 192, 6, 2],
  [3, 1, 192, 320, 6, 1],
];

/**
 * `keras.applications.EfficientNetB0` (with `width` / `depthScale` as `width_coefficient` /
 * `depth_coefficient`: `round_filters`, `round_repeats = ceil`): rescaling (1/255) → Keras's
 * normalization (left out, or its stand-in with `normalization: true`) → stem_conv_pad (correct_pad) → stem_conv 3×3/2 valid
 * → stem_bn → stem_activation (swish), 16 MBConv blocks `block{stage}{a,b,…}_` (`expand_conv` →
 * `expand_bn` → `expand_activation` when expanding; `dwconv_pad` + valid DepthwiseConv2D on
 * stride 2; `dwconv` → `bn` → `activation`; squeeze-and-excitation `se_squeeze` GAP →
 * `se_reshape` (1, 1, c) → `se_reduce` 1×1 swish → `se_expand` 1×1 sigmoid → `se_excite`
 * Multiply; `project_conv` → `project_bn`; on identity blocks `drop` Dropout (drop-connect rate
 * 0.2 · b / blocks, noise shape (None, 1, 1, 1)) → `add`), top_conv 1×1 (1280) → top_bn →
 * top_activation → avg_pool → top_dropout (0.2) → predictions. Inputs are pixels in [0, 255].
 */
export function efficientNetB0(options: EfficientNetOptions = {}): tf.LayersModel {
  const { inputSize = 224, width = 1, depthScale = 1, classes = 1000 } = options;
  const roundFilters = (n: number) => makeDivisible(n * width, 8);
  const roundRepeats = (n: number) => Math.ceil(n * depthScale);
  const swish = "swish";
  const img = input(inputSize);
  let x = apply(tf.layers.rescaling({ name: "rescaling", scale: 1 / 255 }), img);
  if (options.normalization) {
    const stand = tf.layers.depthwiseConv2d({ name: "normalization", kernelSize: 1 });
    x = apply(stand, x);
  }
  x = apply(
    tf.layers.zeroPadding2d({ name: "stem_conv_pad", padding: correctPad(side(x), 3) }),
    x,
  );
  x = apply(conv("stem_conv", roundFilters(32), 3, { strides: 2, useBias: false }), x);
  x = apply(act("stem_activation", swish), apply(bn("stem_bn"), x));
  const total = EFFICIENTNET_STAGES.reduce((n, s) => n + roundRepeats(s[1]), 0);
  let b = 0;
  EFFICIENTNET_STAGES.forEach(([kernel, n, fin, fout, expand, stride], stage) => {
    let filtersIn = roundFilters(fin);
    const filtersOut = roundFilters(fout);
    for (let j = 0; j < roundRepeats(n); j++) {
      const strides = j > 0 ? 1 : stride;
      if (j > 0) filtersIn = filtersOut;
      const name = `block${stage + 1}${String.fromCharCode(97 + j)}_`;
      const dropRate = 0.2 * b / total;
      const inputs = x;
      const filters = filtersIn * expand;
      let h = x;
      if (expand !== 1) {
        h = apply(conv(`${name}expand_conv`, filters, 1, { padding: "same", useBias: false }), h);
        h = apply(act(`${name}expand_activation`, swish), apply(bn(`${name}expand_bn`), h));
      }
      if (strides === 2) {
        h = apply(
          tf.layers.zeroPadding2d({
            name: `${name}dwconv_pad`,
            padding: correctPad(side(h), kernel),
          }),
          h,
        );
      }
      h = apply(
        tf.layers.depthwiseConv2d({
          name: `${name}dwconv`,
          kernelSize: kernel,
          strides,
          padding: strides === 2 ? "valid" : "same",
          useBias: false,
        }),
        h,
      );
      h = apply(act(`${name}activation`, swish), apply(bn(`${name}bn`), h));
      const filtersSe = Math.max(1, Math.trunc(filtersIn * 0.25));
      let se = apply(tf.layers.globalAveragePooling2d({ name: `${name}se_squeeze` }), h);
      se = apply(
        tf.layers.reshape({ name: `${name}se_reshape`, targetShape: [1, 1, filters] }),
        se,
      );
      se = apply(
        conv(`${name}se_reduce`, filtersSe, 1, { padding: "same", activation: swish }),
        se,
      );
      se = apply(
        conv(`${name}se_expand`, filters, 1, { padding: "same", activation: "sigmoid" }),
        se,
      );
      h = apply(tf.layers.multiply({ name: `${name}se_excite` }), [h, se]);
      h = apply(conv(`${name}project_conv`, filtersOut, 1, { padding: "same", useBias: false }), h);
      h = apply(bn(`${name}project_bn`), h);
      if (strides === 1 && filtersIn === filtersOut) {
        if (dropRate > 0) {
          h = apply(
            tf.layers.dropout({
              name: `${name}drop`,
              rate: dropRate,
              noiseShape: [null, 1, 1, 1] as Any,
            }),
            h,
          );
        }
        h = apply(tf.layers.add({ name: `${name}add` }), [h, inputs]);
      }
      x = h;
      b++;
    }
  });
  x = apply(conv("top_conv", roundFilters(1280), 1, { padding: "same", useBias: false }), x);
  x = apply(act("top_activation", swish), apply(bn("top_bn"), x));
  let out = x;
  if (options.includeTop ?? true) {
    x = apply(tf.layers.globalAveragePooling2d({ name: "avg_pool" }), x);
    x = apply(tf.layers.dropout({ name: "top_dropout", rate: 0.2 }), x);
    out = apply(
      tf.layers.dense({ name: "predictions", units: classes, activation: "softmax" }),
      x,
    );
  }
  const model = tf.model({ name: "efficientnetb0", inputs: img, outputs: out });
  return finish(model, options, inputSize, [0, 255], () => {
    if (!options.normalization) return;
    const std = IMAGENET_VARIANCE.map(Math.sqrt);
    const kernel = tf.tensor(std.map((s) => 1 / s), [1, 1, 3, 1]);
    const bias = tf.tensor(IMAGENET_MEAN.map((m, c) => -m / std[c]), [3]);
    model.getLayer("normalization").setWeights([kernel, bias]);
    kernel.dispose();
    bias.dispose();
  });
}

/** ImageNet channel means of pixels in [0, 1] (the adapted state of EfficientNet's Normalization). */
export const IMAGENET_MEAN: readonly number[] = [0.485, 0.456, 0.406];
/** ImageNet channel variances of pixels in [0, 1]. */
export const IMAGENET_VARIANCE: readonly number[] = [0.229 ** 2, 0.224 ** 2, 0.225 ** 2];

/** Options of {@link efficientNetB0}. */
export interface EfficientNetOptions extends ApplicationOptions {
  /**
   * Keras's `Normalization` after the rescaling, held in TF.js by a 1×1 DepthwiseConv2D
   * `normalization` stand-in with the same per-channel map (see {@link withKerasNormalization}).
   */
  normalization?: boolean;
}

/**
 * The spec of an EfficientNet built with `normalization: true`, with the `normalization`
 * stand-in turned into what Keras writes: an adapted `Normalization` layer (axis −1, `mean` /
 * `variance` null in the config) whose non-trainable variables are `mean`, `variance` (ImageNet)
 * and `count`. Works on both config dialects (Keras 2 / TF.js and Keras 3); returns a new spec.
 */
export function withKerasNormalization(spec: ModelSpec): ModelSpec {
  const config = structuredClone(spec.config);
  const layers = (config.config as { layers: Any[] }).layers;
  const entry = layers.find((l) => (l.name ?? l.config?.name) === "normalization");
  if (!entry || entry.class_name !== "DepthwiseConv2D") {
    throw new Error("withKerasNormalization: no normalization stand-in in the spec");
  }
  entry.class_name = "Normalization";
  entry.config = {
    name: "normalization",
    trainable: true,
    dtype: "float32",
    axis: -1,
    invert: false,
    mean: null,
    variance: null,
  };
  const weights = { ...spec.weights };
  weights.normalization = [
    { name: "mean", shape: [3], data: Float32Array.from(IMAGENET_MEAN) },
    { name: "variance", shape: [3], data: Float32Array.from(IMAGENET_VARIANCE) },
    { name: "count", shape: [], data: Float32Array.of(1281167) },
  ];
  return { ...spec, config, weights };
}

// ---- Xception ---------------------------------------------------------------------------------

/**
 * `keras.applications.Xception`: entry flow block1 (conv1 3×3/2 valid, conv2 3×3 valid, no bias,
 * BN + ReLU each), blocks 2–4 (128, 256, 728: SeparableConv2D 3×3 same → BN, ReLU between, block
 * 3–4 starting with ReLU, MaxPooling2D 3×3/2 same, Add with a 1×1/2 Conv2D + BN projection of
 * the block input — Keras's unnamed `conv2d_N` / `batch_normalization_N`), middle flow blocks
 * 5–12 (three ReLU → SeparableConv2D 728 → BN, identity Add; `depthScale` keeps `round(8·d)`),
 * exit flow block13 (728 → 1024 separable, pool, projection Add) and block14 (1536, 2048
 * separable + BN + ReLU), avg_pool → predictions.
 */
export function xception(options: ApplicationOptions = {}): tf.LayersModel {
  const { inputSize = 299, width = 1, depthScale = 1 } = options;
  const names = new AutoNames();
  const f = (n: number) => scaled(n, width);
  const sep = (name: string, filters: number) =>
    tf.layers.separableConv2d({
      name,
      filters: f(filters),
      kernelSize: 3,
      padding: "same",
      useBias: false,
    });
  const relu = (name: string) => act(name, "relu");
  const projection = (x: Sym, filters: number) => {
    const r = apply(
      conv(names.next("conv2d"), f(filters), 1, { strides: 2, padding: "same", useBias: false }),
      x,
    );
    return apply(bn(names.next("batch_normalization")), r);
  };
  const pool = (name: string) =>
    tf.layers.maxPooling2d({ name, poolSize: 3, strides: 2, padding: "same" });

  const img = input(inputSize);
  let x = apply(conv("block1_conv1", f(32), 3, { strides: 2, useBias: false }), img);
  x = apply(relu("block1_conv1_act"), apply(bn("block1_conv1_bn"), x));
  x = apply(conv("block1_conv2", f(64), 3, { useBias: false }), x);
  x = apply(relu("block1_conv2_act"), apply(bn("block1_conv2_bn"), x));
  // Entry flow: blocks 2–4.
  for (const [block, filters] of [[2, 128], [3, 256], [4, 728]]) {
    const residual = projection(x, filters);
    const p = `block${block}`;
    if (block > 2) x = apply(relu(`${p}_sepconv1_act`), x);
    x = apply(bn(`${p}_sepconv1_bn`), apply(sep(`${p}_sepconv1`, filters), x));
    x = apply(relu(`${p}_sepconv2_act`), x);
    x = apply(bn(`${p}_sepconv2_bn`), apply(sep(`${p}_sepconv2`, filters), x));
    x = apply(pool(`${p}_pool`), x);
    x = apply(tf.layers.add({ name: names.next("add") }), [x, residual]);
  }
  // Middle flow.
  for (let i = 0; i < repeats(8, depthScale); i++) {
    const residual = x;
    const p = `block${i + 5}`;
    for (let k = 1; k <= 3; k++) {
      x = apply(relu(`${p}_sepconv${k}_act`), x);
      x = apply(bn(`${p}_sepconv${k}_bn`), apply(sep(`${p}_sepconv${k}`, 728), x));
    }
    x = apply(tf.layers.add({ name: names.next("add") }), [x, residual]);
  }
  // Exit flow.
  const residual = projection(x, 1024);
  x = apply(relu("block13_sepconv1_act"), x);
  x = apply(bn("block13_sepconv1_bn"), apply(sep("block13_sepconv1", 728), x));
  x = apply(relu("block13_sepconv2_act"), x);
  x = apply(bn("block13_sepconv2_bn"), apply(sep("block13_sepconv2", 1024), x));
  x = apply(pool("block13_pool"), x);
  x = apply(tf.layers.add({ name: names.next("add") }), [x, residual]);
  x = apply(bn("block14_sepconv1_bn"), apply(sep("block14_sepconv1", 1536), x));
  x = apply(relu("block14_sepconv1_act"), x);
  x = apply(bn("block14_sepconv2_bn"), apply(sep("block14_sepconv2", 2048), x));
  x = apply(relu("block14_sepconv2_act"), x);
  const model = tf.model({ name: "xception", inputs: img, outputs: head(x, options) });
  return finish(model, options, inputSize, [-1, 1]);
}

// ---- the families -----------------------------------------------------------------------------

/** The six families, in the order the tests run them. */
export const APPLICATION_FAMILIES: readonly ApplicationFamily[] = [
  {
    name: "MobileNetV2",
    build: mobileNetV2,
    defaultSize: 224,
    minSize: 32,
    pixelRange: [-1, 1],
  },
  { name: "ResNet50", build: resNet50, defaultSize: 224, minSize: 32, pixelRange: [-1, 1] },
  { name: "InceptionV3", build: inceptionV3, defaultSize: 299, minSize: 75, pixelRange: [-1, 1] },
  { name: "DenseNet121", build: denseNet121, defaultSize: 224, minSize: 32, pixelRange: [-1, 1] },
  {
    name: "EfficientNetB0",
    build: efficientNetB0,
    defaultSize: 224,
    minSize: 32,
    pixelRange: [0, 255],
  },
  { name: "Xception", build: xception, defaultSize: 299, minSize: 71, pixelRange: [-1, 1] },
];

/** The family named `name` (throws for an unknown name). */
export function applicationFamily(name: string): ApplicationFamily {
  const f = APPLICATION_FAMILIES.find((a) => a.name === name);
  if (!f) throw new Error(`no application family "${name}"`);
  return f;
}
