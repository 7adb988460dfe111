/**
 * Keras 3 optimizers with SIMD update kernels (`wasm/assembly/optim.ts`): Adam, AdamW, SGD
 * (momentum, Nesterov), RMSprop (momentum, centered); gradient clipping by `clipnorm` (each tensor
 * by its own norm), `global_clipnorm` (all tensors together) or `clipvalue` — at most one, as in
 * Keras; decoupled `weight_decay` (every optimizer, as Keras 3's base optimizer); a learning rate
 * that is a number or a `LearningRateSchedule` (`schedules.ts`). Slot variables (moments) live in
 * the kernel module's memory, one set per trainable tensor.
 */
import type { WasmHeap } from "../wasm/heap.ts";
import type { KernelExports } from "../wasm/kernels.ts";
import { TrainingConfigError } from "./errors.ts";
import { LearningRateSchedule, resolveSchedule } from "./schedules.ts";

/** One trainable tensor as the optimizer sees it: current weight and gradient buffers. */
export interface ParamRef {
  /** Device pointer of the weight (may change between steps when a layer is rebuilt). */
  weight: number;
  /** Device pointer of its gradient. */
  grad: number;
  /** Number of floats. */
  size: number;
  /** The weight's path (`"dense/kernel"`), for `excludeFromWeightDecay` name patterns. */
  name?: string;
}

/** Options every optimizer takes (Keras names in camelCase). */
export interface OptimizerOptions {
  /** A number, or a schedule evaluated at `iterations` before every step. */
  learningRate?: number | LearningRateSchedule;
  /**
   * Keras 3 decoupled weight decay: before each update, every trainable weight not excluded
   * ({@link Optimizer.excludeFromWeightDecay}) becomes `w − w·weightDecay·lr`.
   */
  weightDecay?: number;
  /** Clip each gradient tensor to this L2 norm. */
  clipnorm?: number;
  /** Clip every gradient element to [-clipvalue, clipvalue]. */
  clipvalue?: number;
  /** Clip all gradients together to this global L2 norm. */
  globalClipnorm?: number;
}

function positive(v: unknown, field: string, allowZero = false): number {
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new TrainingConfigError(
      field,
      `expected a ${allowZero ? "non-negative" : "positive"} number, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** Base of the optimizers: clipping, slots, the step counter and the learning rate. */
export abstract class Optimizer {
  /** Keras class name. */
  abstract readonly className: string;
  /** Completed update steps (Keras `iterations`). */
  iterations = 0;
  readonly clipnorm?: number;
  readonly clipvalue?: number;
  readonly globalClipnorm?: number;
  /** Decoupled weight decay (Keras `weight_decay`), or undefined for none. */
  readonly weightDecay?: number;
  /** The learning-rate schedule, when the learning rate is one. */
  readonly schedule?: LearningRateSchedule;
  #learningRate: number;
  #excludePattern?: RegExp;
  #slots: number[][] = [];
  #sizes: number[] = [];
  #heap?: WasmHeap;

  constructor(options: OptimizerOptions, defaultLearningRate: number) {
    const lr = options.learningRate ?? defaultLearningRate;
    if (lr instanceof LearningRateSchedule) {
      this.schedule = lr;
      this.#learningRate = Math.fround(lr.at(0));
    } else {
      this.#learningRate = Math.fround(positive(lr, "optimizer.learningRate"));
    }
    if (options.weightDecay != null) {
      this.weightDecay = positive(options.weightDecay, "optimizer.weightDecay", true);
    }
    const clips = (["clipnorm", "clipvalue", "globalClipnorm"] as const).filter((k) =>
      options[k] !== undefined && options[k] !== null
    );
    if (clips.length > 1) {
      throw new TrainingConfigError(
        "optimizer",
        `only one of clipnorm, clipvalue and globalClipnorm can be set, got ${clips.join(", ")}`,
      );
    }
    if (options.clipnorm != null) this.clipnorm = positive(options.clipnorm, "optimizer.clipnorm");
    if (options.clipvalue != null) {
      this.clipvalue = positive(options.clipvalue, "optimizer.clipvalue");
    }
    if (options.globalClipnorm != null) {
      this.globalClipnorm = positive(options.globalClipnorm, "optimizer.globalClipnorm");
    }
  }

  /**
   * The learning rate of the next step (float32, like Keras's variable): the schedule's value at
   * `iterations` when there is one.
   */
  get learningRate(): number {
    return this.schedule ? Math.fround(this.schedule.at(this.iterations)) : this.#learningRate;
  }

  set learningRate(value: number) {
    if (this.schedule) {
      throw new TrainingConfigError(
        "optimizer.learningRate",
        `is the schedule ${this.schedule.className} and cannot be set to ${value}`,
      );
    }
    this.#learningRate = Math.fround(positive(value, "optimizer.learningRate", true));
  }

  /**
   * Keras `exclude_from_weight_decay(var_names=…)`: weights whose path matches any of the
   * patterns (regular-expression search, `"bias"`) are not decayed. Keras excludes nothing by
   * default. Call before the first step.
   */
  excludeFromWeightDecay(varNames: readonly string[]): void {
    if (this.#sizes.length) {
      throw new TrainingConfigError(
        "optimizer.excludeFromWeightDecay",
        "can only be configured before the optimizer is built (its first step)",
      );
    }
    this.#excludePattern = varNames.length
      ? new RegExp(varNames.map((n) => `(?:${n})`).join("|"))
      : undefined;
  }

  /** Whether `p` is decayed (Keras `_use_weight_decay`). */
  #decays(p: ParamRef): boolean {
    return !(this.#excludePattern && p.name !== undefined && this.#excludePattern.test(p.name));
  }

  /** Slot buffers per parameter (e.g. Adam: m, v). */
  protected abstract slotCount(): number;

  /** Updates one tensor in place. */
  protected abstract updateStep(
    kernels: KernelExports,
    p: ParamRef,
    slots: readonly number[],
    lr: number,
  ): void;

  /** Clips the gradients (Keras order of options) and applies one update to every tensor. */
  applyGradients(params: readonly ParamRef[], kernels: KernelExports, heap: WasmHeap): void {
    this.#ensureSlots(params, heap);
    if (this.clipnorm !== undefined) {
      for (const p of params) {
        const norm = Math.sqrt(kernels.sumSquares(p.grad, p.size));
        if (!(norm <= this.clipnorm)) {
          kernels.scaleInPlace(p.grad, p.size, this.clipnorm / norm);
        }
      }
    } else if (this.globalClipnorm !== undefined) {
      let ss = 0;
      for (const p of params) ss += kernels.sumSquares(p.grad, p.size);
      const norm = Math.sqrt(ss);
      // Keras: scale = c·min(1/norm, 1/c), NaN when the norm is not finite.
      const scale = Number.isFinite(norm)
        ? this.globalClipnorm * Math.min(1 / norm, 1 / this.globalClipnorm)
        : NaN;
      if (scale !== 1) { for (const p of params) kernels.scaleInPlace(p.grad, p.size, scale); }
    } else if (this.clipvalue !== undefined) {
      for (const p of params) kernels.clipInPlace(p.grad, p.size, -this.clipvalue, this.clipvalue);
    }
    const lr = this.learningRate;
    if (this.weightDecay) {
      // Keras 3 `_apply_weight_decay`, before the update: w ← w − w·wd·lr.
      const keep = Math.fround(1 - Math.fround(this.weightDecay * lr));
      for (const p of params) if (this.#decays(p)) kernels.scaleInPlace(p.weight, p.size, keep);
    }
    params.forEach((p, i) => this.updateStep(kernels, p, this.#slots[i], lr));
    this.iterations++;
  }

  #ensureSlots(params: readonly ParamRef[], heap: WasmHeap): void {
    if (this.#heap && this.#heap !== heap) {
      throw new TrainingConfigError("optimizer", "is already used with another kernel module");
    }
    if (this.#sizes.length) {
      const same = this.#sizes.length === params.length &&
        params.every((p, i) => p.size === this.#sizes[i]);
      if (!same) {
        throw new TrainingConfigError(
          "optimizer",
          "was built for other weights; create a new optimizer for another model",
        );
      }
      return;
    }
    this.#heap = heap;
    this.#sizes = params.map((p) => p.size);
    const k = this.slotCount();
    this.#slots = params.map((p) =>
      Array.from({ length: k }, () => {
        const ptr = heap.alloc(p.size * 4);
        heap.f32(ptr, p.size).fill(0);
        return ptr;
      })
    );
  }

  /** Frees the slot buffers and forgets the step count. */
  dispose(): void {
    for (const slots of this.#slots) for (const p of slots) this.#heap?.free(p);
    this.#slots = [];
    this.#sizes = [];
    this.iterations = 0;
  }

  /** Keras-style config (`get_config`). */
  getConfig(): Record<string, unknown> {
    return {
      learning_rate: this.schedule ? this.schedule.toKeras() : this.learningRate,
      weight_decay: this.weightDecay ?? null,
      clipnorm: this.clipnorm ?? null,
      clipvalue: this.clipvalue ?? null,
      global_clipnorm: this.globalClipnorm ?? null,
    };
  }
}

/** Options of {@link Adam}. */
export interface AdamOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  epsilon?: number;
}

/**
 * Keras 3 Adam (lr 1e-3, β1 0.9, β2 0.999, ε 1e-7):
 * `alpha = lr·√(1−β2^t)/(1−β1^t)`, `w −= alpha·m/(√v + ε)`.
 */
export class Adam extends Optimizer {
  readonly className: string = "Adam";
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;

  constructor(options: AdamOptions = {}) {
    super(options, 1e-3);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.epsilon = positive(options.epsilon ?? 1e-7, "optimizer.epsilon", true);
    for (const [k, v] of [["beta1", this.beta1], ["beta2", this.beta2]] as const) {
      if (!(v >= 0 && v < 1)) {
        throw new TrainingConfigError(`optimizer.${k}`, `expected [0, 1), got ${v}`);
      }
    }
  }

  protected slotCount(): number {
    return 2;
  }

  protected updateStep(k: KernelExports, p: ParamRef, s: readonly number[], lr: number): void {
    const t = this.iterations + 1;
    const alpha = (lr * Math.sqrt(1 - this.beta2 ** t)) / (1 - this.beta1 ** t);
    k.adamUpdate(p.weight, p.grad, s[0], s[1], p.size, alpha, this.beta1, this.beta2, this.epsilon);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), beta_1: this.beta1, beta_2: this.beta2, epsilon: this.epsilon };
  }
}

/**
 * Keras 3 AdamW: Adam with decoupled weight decay on by default (`weight_decay` 0.004; lr 1e-3,
 * β1 0.9, β2 0.999, ε 1e-7). Each step first decays every trainable weight not excluded by
 * {@link Optimizer.excludeFromWeightDecay} (`w −= w·wd·lr`, none excluded by default), then
 * applies Adam's update.
 */
export class AdamW extends Adam {
  override readonly className = "AdamW";

  constructor(options: AdamOptions = {}) {
    super({ ...options, weightDecay: options.weightDecay ?? 0.004 });
  }
}

/** Options of {@link SGD}. */
export interface SGDOptions extends OptimizerOptions {
  momentum?: number;
  nesterov?: boolean;
}

/** Keras 3 SGD (lr 0.01): plain, with momentum, or Nesterov. */
export class SGD extends Optimizer {
  readonly className = "SGD";
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(options: SGDOptions = {}) {
    super(options, 0.01);
    this.momentum = options.momentum ?? 0;
    if (!(this.momentum >= 0 && this.momentum <= 1)) {
      throw new TrainingConfigError("optimizer.momentum", `expected [0, 1], got ${this.momentum}`);
    }
    this.nesterov = options.nesterov ?? false;
  }

  protected slotCount(): number {
    return this.momentum !== 0 ? 1 : 0;
  }

  protected updateStep(k: KernelExports, p: ParamRef, s: readonly number[], lr: number): void {
    k.sgdUpdate(p.weight, p.grad, s[0] ?? 0, p.size, lr, this.momentum, this.nesterov ? 1 : 0);
  }

  override getConfig(): Record<string, unknown> {
    return { ...super.getConfig(), momentum: this.momentum, nesterov: this.nesterov };
  }
}

/** Options of {@link RMSprop}. */
export interface RMSpropOptions extends OptimizerOptions {
  rho?: number;
  momentum?: number;
  epsilon?: number;
  centered?: boolean;
}

/** Keras 3 RMSprop (lr 1e-3, ρ 0.9, ε 1e-7 inside the square root). */
export class RMSprop extends Optimizer {
  readonly className = "RMSprop";
  readonly rho: number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly centered: boolean;

  constructor(options: RMSpropOptions = {}) {
    super(options, 1e-3);
    this.rho = options.rho ?? 0.9;
    this.momentum = options.momentum ?? 0;
    this.epsilon = positive(options.epsilon ?? 1e-7, "optimizer.epsilon", true);
    this.centered = options.centered ?? false;
  }

  protected slotCount(): number {
    return 3;
  }

  protected updateStep(k: KernelExports, p: ParamRef, s: readonly number[], lr: number): void {
    k.rmspropUpdate(
      p.weight,
      p.grad,
      s[0],
      s[1],
      s[2],
      p.size,
      lr,
      this.rho,
      this.momentum,
      this.epsilon,
      this.centered ? 1 : 0,
    );
  }

  override getConfig(): Record<string, unknown> {
    return {
      ...super.getConfig(),
      rho: this.rho,
      momentum: this.momentum,
      epsilon: this.epsilon,
      centered: this.centered,
    };
  }
}

/** An optimizer as `compile` accepts it: an instance, a name, or a Keras `{class_name, config}`. */
export type OptimizerConfig =
  | Optimizer
  | "adam"
  | "adamw"
  | "sgd"
  | "rmsprop"
  | string
  | { class_name: string; config?: Record<string, unknown> };

const SNAKE_TO_CAMEL: Record<string, string> = {
  learning_rate: "learningRate",
  beta_1: "beta1",
  beta_2: "beta2",
  global_clipnorm: "globalClipnorm",
  weight_decay: "weightDecay",
};

/** Resolves `compile`'s optimizer option (Keras config fields in snake_case are accepted). */
export function resolveOptimizer(config: OptimizerConfig | undefined): Optimizer {
  if (config instanceof Optimizer) return config;
  let name: string;
  const options: Record<string, unknown> = {};
  if (config === undefined) name = "adam";
  else if (typeof config === "string") name = config;
  else if (config && typeof config === "object" && typeof config.class_name === "string") {
    name = config.class_name;
    for (const [k, v] of Object.entries(config.config ?? {})) {
      if (v === null || k === "name") continue;
      options[SNAKE_TO_CAMEL[k] ?? k] = k === "learning_rate" && typeof v === "object"
        ? resolveSchedule(v, "optimizer.learning_rate")
        : v;
    }
  } else {
    throw new TrainingConfigError(
      "optimizer",
      `expected an Optimizer, a name or {class_name, config}, got ${JSON.stringify(config)}`,
    );
  }
  for (const k of ["amsgrad", "use_ema"]) {
    if (options[k] !== undefined && options[k] !== false && options[k] !== null) {
      throw new TrainingConfigError(`optimizer.${k}`, "is not supported");
    }
    delete options[k];
  }
  switch (name.toLowerCase()) {
    case "adam":
      return new Adam(options as AdamOptions);
    case "adamw":
      return new AdamW(options as AdamOptions);
    case "sgd":
      return new SGD(options as SGDOptions);
    case "rmsprop":
      return new RMSprop(options as RMSpropOptions);
    default:
      throw new TrainingConfigError(
        "optimizer",
        `unknown optimizer ${JSON.stringify(name)} (supported: adam, adamw, sgd, rmsprop)`,
      );
  }
}
