/**
 * Keras activations by config name: the codes shared with `wasm/assembly/activations.ts`, and the
 * plain TypeScript reference implementation used as the kernels' test oracle.
 */
import { LayerConfigError } from "./errors.ts";

/** Element-wise activation codes; must match the AssemblyScript constants. */
export enum ActivationCode {
  Linear = 0,
  Relu = 1,
  Sigmoid = 2,
  Tanh = 3,
  Elu = 4,
  Selu = 5,
  Softplus = 6,
  Softsign = 7,
  Swish = 8,
  Gelu = 9,
  GeluTanh = 10,
  Exponential = 11,
  Relu6 = 12,
  LeakyRelu = 13,
  Mish = 14,
  HardSigmoid = 15,
  HardSigmoidKeras2 = 16,
  /** Keras 3 `hard_silu` (alias `hard_swish`): x·relu6(x + 3)/6. */
  HardSilu = 17,
}

/** A resolved activation: an element-wise code, or a row-wise softmax / log-softmax. */
export type Activation =
  | { kind: "elementwise"; code: ActivationCode; alpha: number; name: string }
  | { kind: "softmax" | "log_softmax"; name: string };

const ELEMENTWISE: Record<string, [ActivationCode, number]> = {
  linear: [ActivationCode.Linear, 0],
  relu: [ActivationCode.Relu, 0],
  sigmoid: [ActivationCode.Sigmoid, 0],
  tanh: [ActivationCode.Tanh, 0],
  elu: [ActivationCode.Elu, 1],
  selu: [ActivationCode.Selu, 0],
  softplus: [ActivationCode.Softplus, 0],
  softsign: [ActivationCode.Softsign, 0],
  swish: [ActivationCode.Swish, 0],
  silu: [ActivationCode.Swish, 0],
  gelu: [ActivationCode.Gelu, 0],
  exponential: [ActivationCode.Exponential, 0],
  relu6: [ActivationCode.Relu6, 0],
  // keras.activations.leaky_relu defaults negative_slope to 0.2 (the LeakyReLU layer uses 0.3).
  leaky_relu: [ActivationCode.LeakyRelu, 0.2],
  mish: [ActivationCode.Mish, 0],
  // keras.activations.hard_silu; Keras exports it as hard_swish too (same function).
  hard_silu: [ActivationCode.HardSilu, 0],
  hard_swish: [ActivationCode.HardSilu, 0],
};

/** Whether `kerasVersion` follows Keras 2 semantics (Keras 2.x and TF.js layers files). */
export function isKeras2(kerasVersion: string | undefined): boolean {
  return kerasVersion !== undefined && (/^2\./.test(kerasVersion) || /tfjs/.test(kerasVersion));
}

/**
 * Resolves a config's `activation` value (a name, `null`, or a serialized `{class_name, config}`).
 * `hard_sigmoid` depends on the Keras major version of the file.
 */
export function resolveActivation(
  value: unknown,
  layerName: string,
  kerasVersion?: string,
  field = "activation",
): Activation {
  let name: unknown = value ?? "linear";
  if (typeof name === "object" && name !== null) {
    const o = name as Record<string, unknown>;
    name = typeof o.config === "string" ? o.config : o.class_name;
  }
  if (typeof name !== "string") {
    throw new LayerConfigError(
      layerName,
      field,
      `expected an activation name, got ${JSON.stringify(value)}`,
    );
  }
  if (name === "softmax" || name === "log_softmax") return { kind: name, name };
  if (name === "hard_sigmoid") {
    const code = isKeras2(kerasVersion)
      ? ActivationCode.HardSigmoidKeras2
      : ActivationCode.HardSigmoid;
    return { kind: "elementwise", code, alpha: 0, name };
  }
  const hit = ELEMENTWISE[name];
  if (!hit) {
    throw new LayerConfigError(
      layerName,
      field,
      `unknown activation "${name}" (supported: ${
        [...Object.keys(ELEMENTWISE), "hard_sigmoid", "softmax", "log_softmax"].join(", ")
      })`,
    );
  }
  return { kind: "elementwise", code: hit[0], alpha: hit[1], name };
}

function erf(x: number): number {
  // Abramowitz–Stegun 7.1.26 is too coarse; use the same erfc fit as the kernel (|err| < 1.2e-7).
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r = t * Math.exp(
    -z * z - 1.26551223 +
      t * (1.00002368 +
          t * (0.37409196 +
              t * (0.09678418 +
                  t * (-0.18628806 +
                      t * (0.27886807 +
                          t *
                            (-1.13520398 +
                              t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
  );
  return x >= 0 ? 1 - r : r - 1;
}

const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));

/** Reference: one element-wise activation in float64 (the oracle for the SIMD kernel). */
export function activateReference(x: number, code: ActivationCode, alpha: number): number {
  switch (code) {
    case ActivationCode.Linear:
      return x;
    case ActivationCode.Relu:
      return Math.max(x, 0);
    case ActivationCode.Sigmoid:
      return 1 / (1 + Math.exp(-x));
    case ActivationCode.Tanh:
      return Math.tanh(x);
    case ActivationCode.Elu:
      return x > 0 ? x : alpha * Math.expm1(x);
    case ActivationCode.Selu:
      return 1.0507009873554805 * (x > 0 ? x : 1.6732632423543772 * Math.expm1(x));
    case ActivationCode.Softplus:
      return softplus(x);
    case ActivationCode.Softsign:
      return x / (1 + Math.abs(x));
    case ActivationCode.Swish:
      return x / (1 + Math.exp(-x));
    case ActivationCode.Gelu:
      return 0.5 * x * (1 + erf(x / Math.SQRT2));
    case ActivationCode.GeluTanh:
      return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * (x + 0.044715 * x ** 3)));
    case ActivationCode.Exponential:
      return Math.exp(x);
    case ActivationCode.Relu6:
      return Math.min(Math.max(x, 0), 6);
    case ActivationCode.LeakyRelu:
      return x >= 0 ? x : alpha * x;
    case ActivationCode.Mish:
      return x * Math.tanh(softplus(x));
    case ActivationCode.HardSigmoid:
      return Math.min(Math.max(x + 3, 0), 6) / 6;
    case ActivationCode.HardSigmoidKeras2:
      return Math.min(Math.max(0.2 * x + 0.5, 0), 1);
    case ActivationCode.HardSilu:
      return x * Math.min(Math.max(x + 3, 0), 6) / 6;
  }
}

/** Reference: softmax (or log-softmax) over each row of a rows×cols matrix. */
export function softmaxReference(x: Float32Array, cols: number, log = false): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / cols; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const mx = Math.max(...row);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - mx);
    for (let j = 0; j < cols; j++) {
      out[r * cols + j] = log ? row[j] - mx - Math.log(sum) : Math.exp(row[j] - mx) / sum;
    }
  }
  return out;
}

/** Reference for any resolved activation over a rows×lastDim array. */
export function applyActivationReference(
  x: Float32Array,
  lastDim: number,
  act: Activation,
): Float32Array {
  if (act.kind !== "elementwise") return softmaxReference(x, lastDim, act.kind === "log_softmax");
  return Float32Array.from(x, (v) => activateReference(v, act.code, act.alpha));
}
