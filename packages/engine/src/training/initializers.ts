/**
 * Keras weight initializers, seeded: the values differ from Keras's own random streams, the
 * distributions are the same. Resolved from a layer config's `*_initializer` fields in any of
 * Keras's forms: a string (`"glorot_uniform"`), Keras 2 `{class_name, config}` or Keras 3
 * `{module, class_name, config}`. Missing fields use Keras's per-weight defaults.
 */
import type { Layer, LayerConfig, WeightTensor } from "../layer.ts";
import { type Shape, sizeOf } from "../tensor.ts";
import { TrainingConfigError } from "./errors.ts";
import type { SeededRandom } from "./random.ts";

/** A resolved initializer: fills a tensor of `shape`. */
export type Initializer = (shape: number[], rng: SeededRandom) => Float32Array;

/** Keras `compute_fans`: conv kernels multiply the channel fans by the receptive field. */
export function computeFans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length === 0) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  if (shape.length === 2) return { fanIn: shape[0], fanOut: shape[1] };
  const receptive = sizeOf(shape.slice(0, -2));
  return {
    fanIn: shape[shape.length - 2] * receptive,
    fanOut: shape[shape.length - 1] * receptive,
  };
}

// Keras: stddev of a normal truncated at ±2σ is 0.8796… of the untruncated one.
const TRUNCATION_STDDEV = 0.87962566103423978;

type Mode = "fan_in" | "fan_out" | "fan_avg";
type Distribution = "truncated_normal" | "untruncated_normal" | "uniform";

function varianceScaling(scale: number, mode: Mode, distribution: Distribution): Initializer {
  return (shape, rng) => {
    const { fanIn, fanOut } = computeFans(shape);
    const n = mode === "fan_in" ? fanIn : mode === "fan_out" ? fanOut : (fanIn + fanOut) / 2;
    const s = scale / Math.max(1, n);
    const out = new Float32Array(sizeOf(shape));
    if (distribution === "uniform") {
      const limit = Math.sqrt(3 * s);
      for (let i = 0; i < out.length; i++) out[i] = rng.uniform(-limit, limit);
    } else if (distribution === "truncated_normal") {
      const std = Math.sqrt(s) / TRUNCATION_STDDEV;
      for (let i = 0; i < out.length; i++) out[i] = rng.truncatedNormal(0, std);
    } else {
      const std = Math.sqrt(s);
      for (let i = 0; i < out.length; i++) out[i] = std * rng.normal();
    }
    return out;
  };
}

function constant(value: number): Initializer {
  return (shape) => new Float32Array(sizeOf(shape)).fill(value);
}

function randomUniform(lo: number, hi: number): Initializer {
  return (shape, rng) => {
    const out = new Float32Array(sizeOf(shape));
    for (let i = 0; i < out.length; i++) out[i] = rng.uniform(lo, hi);
    return out;
  };
}

function randomNormal(mean: number, stddev: number, truncated: boolean): Initializer {
  return (shape, rng) => {
    const out = new Float32Array(sizeOf(shape));
    for (let i = 0; i < out.length; i++) {
      out[i] = truncated ? rng.truncatedNormal(mean, stddev) : mean + stddev * rng.normal();
    }
    return out;
  };
}

/**
 * Keras `Orthogonal`: the Q of a QR decomposition of a normal matrix of shape
 * (max(rows, cols), min(rows, cols)) with rows = ∏ shape[:-1], transposed when rows < cols.
 * (Modified Gram–Schmidt in float64; R's diagonal is then positive, so no sign fix is needed.)
 */
function orthogonal(gain: number): Initializer {
  return (shape, rng) => {
    const cols = shape[shape.length - 1] ?? 1;
    const rows = sizeOf(shape) / Math.max(1, cols);
    const tall = Math.max(rows, cols), narrow = Math.min(rows, cols);
    // q is tall × narrow, column-major for the column sweeps.
    const q = new Float64Array(tall * narrow);
    for (let i = 0; i < q.length; i++) q[i] = rng.normal();
    for (let j = 0; j < narrow; j++) {
      const cj = q.subarray(j * tall, (j + 1) * tall);
      for (let pass = 0; pass < 2; pass++) {
        // Two orthogonalisation passes keep float64 orthogonality near machine precision.
        for (let p = 0; p < j; p++) {
          const cp = q.subarray(p * tall, (p + 1) * tall);
          let d = 0;
          for (let i = 0; i < tall; i++) d += cp[i] * cj[i];
          for (let i = 0; i < tall; i++) cj[i] -= d * cp[i];
        }
      }
      let norm = 0;
      for (let i = 0; i < tall; i++) norm += cj[i] * cj[i];
      norm = Math.sqrt(norm);
      for (let i = 0; i < tall; i++) cj[i] /= norm;
    }
    const out = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        // rows ≥ cols: out[r, c] = q[r, c]; otherwise out = qᵀ: out[r, c] = q[c, r].
        out[r * cols + c] = gain * (rows >= cols ? q[c * tall + r] : q[r * tall + c]);
      }
    }
    return out;
  };
}

function identity(gain: number): Initializer {
  return (shape) => {
    if (shape.length !== 2) {
      throw new TrainingConfigError("Identity initializer", `needs a 2-D shape, got [${shape}]`);
    }
    const out = new Float32Array(shape[0] * shape[1]);
    for (let i = 0; i < Math.min(shape[0], shape[1]); i++) out[i * shape[1] + i] = gain;
    return out;
  };
}

const SNAKE: Record<string, string> = {
  GlorotUniform: "glorot_uniform",
  GlorotNormal: "glorot_normal",
  HeNormal: "he_normal",
  HeUniform: "he_uniform",
  LecunNormal: "lecun_normal",
  LecunUniform: "lecun_uniform",
  Orthogonal: "orthogonal",
  OrthogonalInitializer: "orthogonal",
  Zeros: "zeros",
  Ones: "ones",
  Constant: "constant",
  RandomNormal: "random_normal",
  RandomUniform: "random_uniform",
  TruncatedNormal: "truncated_normal",
  VarianceScaling: "variance_scaling",
  Identity: "identity",
  IdentityInitializer: "identity",
};

function numberField(cfg: Record<string, unknown>, key: string, fallback: number, where: string) {
  const v = cfg[key] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new TrainingConfigError(where, `${key} must be a number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Resolves an initializer from a Keras config value (string, `{class_name, config}` or
 * `{module, class_name, config}`). `where` names the layer and field in errors.
 */
export function resolveInitializer(value: unknown, where: string): Initializer {
  let name: string;
  let cfg: Record<string, unknown> = {};
  if (typeof value === "string") name = value;
  else if (
    value && typeof value === "object" &&
    typeof (value as { class_name?: unknown }).class_name === "string"
  ) {
    const o = value as { class_name: string; config?: Record<string, unknown> };
    name = SNAKE[o.class_name] ?? o.class_name;
    cfg = o.config ?? {};
  } else {
    throw new TrainingConfigError(
      where,
      `expected an initializer name or {class_name, config}, got ${JSON.stringify(value)}`,
    );
  }
  switch (name) {
    case "glorot_uniform":
      return varianceScaling(1, "fan_avg", "uniform");
    case "glorot_normal":
      return varianceScaling(1, "fan_avg", "truncated_normal");
    case "he_normal":
      return varianceScaling(2, "fan_in", "truncated_normal");
    case "he_uniform":
      return varianceScaling(2, "fan_in", "uniform");
    case "lecun_normal":
      return varianceScaling(1, "fan_in", "truncated_normal");
    case "lecun_uniform":
      return varianceScaling(1, "fan_in", "uniform");
    case "variance_scaling": {
      const mode = (cfg.mode ?? "fan_in") as Mode;
      let dist = String(cfg.distribution ?? "truncated_normal");
      if (dist === "normal") dist = "truncated_normal"; // Keras 2 spelling
      if (!["fan_in", "fan_out", "fan_avg"].includes(mode)) {
        throw new TrainingConfigError(where, `VarianceScaling mode ${JSON.stringify(mode)}`);
      }
      if (!["truncated_normal", "untruncated_normal", "uniform"].includes(dist)) {
        throw new TrainingConfigError(
          where,
          `VarianceScaling distribution ${JSON.stringify(dist)}`,
        );
      }
      return varianceScaling(numberField(cfg, "scale", 1, where), mode, dist as Distribution);
    }
    case "orthogonal":
      return orthogonal(numberField(cfg, "gain", 1, where));
    case "identity":
      return identity(numberField(cfg, "gain", 1, where));
    case "zeros":
    case "zero":
      return constant(0);
    case "ones":
    case "one":
      return constant(1);
    case "constant":
      return constant(numberField(cfg, "value", 0, where));
    case "random_uniform":
    case "uniform":
      return randomUniform(
        numberField(cfg, "minval", -0.05, where),
        numberField(cfg, "maxval", 0.05, where),
      );
    case "random_normal":
    case "normal":
      return randomNormal(
        numberField(cfg, "mean", 0, where),
        numberField(cfg, "stddev", 0.05, where),
        false,
      );
    case "truncated_normal":
      return randomNormal(
        numberField(cfg, "mean", 0, where),
        numberField(cfg, "stddev", 0.05, where),
        true,
      );
    default:
      throw new TrainingConfigError(where, `unknown initializer ${JSON.stringify(name)}`);
  }
}

/**
 * Keras's initializer for the weights many layer classes share, by weight name: the config field
 * that sets it and Keras's default. Weights of one class alone (PReLU's `alpha`, Normalization's
 * adapt state, Attention's `scale`) get their initial values from that layer's `initialWeight`
 * hook, so adding a layer touches nothing here.
 */
const SHARED_WEIGHT_DEFAULTS: Record<string, [field: string, fallback: string]> = {
  kernel: ["kernel_initializer", "glorot_uniform"],
  recurrent_kernel: ["recurrent_initializer", "orthogonal"],
  bias: ["bias_initializer", "zeros"],
  embeddings: ["embeddings_initializer", "uniform"],
  gamma: ["gamma_initializer", "ones"],
  beta: ["beta_initializer", "zeros"],
  moving_mean: ["moving_mean_initializer", "zeros"],
  moving_variance: ["moving_variance_initializer", "ones"],
  depthwise_kernel: ["depthwise_initializer", "glorot_uniform"],
  pointwise_kernel: ["pointwise_initializer", "glorot_uniform"],
};

/**
 * Fresh weights for `layer` at `inputShape` (no batch dim), in the layer's Keras order. Each
 * weight comes from the layer's `initialWeight` hook (its own weights and Keras quirks such as
 * LSTM's `unit_forget_bias`), else from the shared per-name default above, read from the layer's
 * config (a wrapper's — `Bidirectional`, `TimeDistributed` — from the wrapped layer's config).
 */
export function initialWeights(
  layer: Layer,
  inputShape: Shape,
  rng: SeededRandom,
): WeightTensor[] {
  const wrapped = layer.config.layer as { class_name?: string; config?: LayerConfig } | undefined;
  const inner = wrapped && typeof wrapped === "object" && wrapped.config ? wrapped : undefined;
  const cfg = inner?.config ?? layer.config;
  return layer.weightSpecs(inputShape).map((spec) => {
    const base = spec.name.split("/").pop() ?? spec.name;
    // Resolved only when drawn: a layer that supplies a weight needs no shared default for it.
    const draw = (shape: number[], initializer?: unknown): Float32Array => {
      if (initializer !== undefined) {
        return resolveInitializer(initializer, `layer "${layer.name}" weight ${spec.name}`)(
          shape,
          rng,
        );
      }
      const shared = Object.hasOwn(SHARED_WEIGHT_DEFAULTS, base)
        ? SHARED_WEIGHT_DEFAULTS[base]
        : undefined;
      if (!shared) {
        throw new TrainingConfigError(
          `layer "${layer.name}" weight ${spec.name}`,
          "no initializer is known for this weight; pass its weights explicitly",
        );
      }
      const [field, fallback] = shared;
      return resolveInitializer(cfg[field] ?? fallback, `layer "${layer.name}" ${field}`)(
        shape,
        rng,
      );
    };
    const data = layer.initialWeight(spec.name, spec.shape, draw) ?? draw([...spec.shape]);
    return { name: spec.name, shape: [...spec.shape], data };
  });
}
