/**
 * Loads the compiled SIMD kernel module once per process (or worker) and exposes its exports
 * with TypeScript types, plus the heap that owns its memory.
 */
import { decodeBase64 } from "./base64.ts";
import { KERNELS_RELAXED_WASM_BASE64, KERNELS_WASM_BASE64 } from "./kernels_wasm.ts";
import { WasmHeap } from "./heap.ts";
import { findMemoryImport, sharedMemorySupported, withUnsharedMemory } from "./memory_import.ts";

/** Raw kernel exports. Pointers are byte offsets into the module's memory. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  simdEnabled(): number;
  activate(ptr: number, n: number, code: number, alpha: number): void;
  reluGeneral(
    ptr: number,
    n: number,
    negativeSlope: number,
    maxValue: number,
    threshold: number,
  ): void;
  softmaxRows(ptr: number, rows: number, cols: number, logOutput: number): void;
  gemm(
    a: number,
    b: number,
    bias: number,
    c: number,
    m: number,
    n: number,
    k: number,
    act: number,
    alpha: number,
  ): void;
  gemmStrided(
    a: number,
    lda: number,
    b: number,
    ldb: number,
    bias: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    act: number,
    alpha: number,
    accumulate: number,
  ): void;
  /** Conv2D NHWC: 1×1 gemm, implicit GEMM or im2col tiles in `scratch` (see conv.ts). */
  conv2d(
    x: number,
    w: number,
    bias: number,
    y: number,
    scratch: number,
    scratchFloats: number,
    batch: number,
    h: number,
    wd: number,
    c: number,
    outH: number,
    outW: number,
    outC: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    padTop: number,
    padLeft: number,
    act: number,
    alpha: number,
  ): void;
  /** Floats of scratch `conv2d` wants for its preferred method on this shape (0: none). */
  conv2dScratchFloats(
    batch: number,
    h: number,
    wd: number,
    c: number,
    outH: number,
    outW: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dh: number,
    dw: number,
    padTop: number,
    padLeft: number,
    im2colFloats: number,
  ): number;
  /**
   * Conv2D by Winograd F(m×m, r×r) with 8×8 input tiles (stride 1, undilated, channels multiples
   * of 4): `u` the transformed filters (see winograd.ts).
   */
  conv2dWinograd(
    x: number,
    u: number,
    bias: number,
    y: number,
    scratch: number,
    scratchFloats: number,
    batch: number,
    h: number,
    wd: number,
    c: number,
    outH: number,
    outW: number,
    outC: number,
    m: number,
    padTop: number,
    padLeft: number,
    act: number,
    alpha: number,
  ): void;
  /** Floats of scratch `conv2dWinograd` needs for chunks of `tiles` output tiles. */
  conv2dWinogradScratchFloats(tiles: number, c: number, outC: number): number;
  /** 1 when this build fuses multiply-add (the relaxed-SIMD variant). */
  gemmFusedMultiplyAdd(): number;
  /** SIMD peak loop (bench): 96 flops per iteration of separate f32x4 multiply and add. */
  simdPeakMulAdd(iterations: number, scratch: number): void;
  /** SIMD peak loop with fused multiply-add in the relaxed build (96 flops per iteration). */
  simdPeakFma(iterations: number, scratch: number): void;
  /** Max (isAvg 0) or average (isAvg 1) pooling over real cells, NHWC. */
  pool2d(
    x: number,
    y: number,
    batch: number,
    h: number,
    w: number,
    c: number,
    outH: number,
    outW: number,
    ph: number,
    pw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
    isAvg: number,
  ): void;
  /** Global max (isAvg 0) or average (isAvg 1) over `hw` positions per sample. */
  globalPool2d(x: number, y: number, batch: number, hw: number, c: number, isAvg: number): void;
  /** y = x·scale + shift per channel of the last axis (rows × c). */
  scaleShift(x: number, y: number, rows: number, c: number, scale: number, shift: number): void;
  /** Embedding rows for `n` ids; returns the index of the first invalid id, or -1. */
  embeddingGather(
    ids: number,
    idsAreInt: number,
    table: number,
    out: number,
    n: number,
    inputDim: number,
    dim: number,
  ): number;
  /** mask[i] = ids[i] != 0 (int32). */
  embeddingMask(ids: number, idsAreInt: number, mask: number, n: number): void;
  /** Scratch bytes `rnnSequence` needs. */
  rnnWorkspaceBytes(cell: number, batch: number, time: number, units: number): number;
  /** A recurrent layer over a whole batch and sequence (see wasm/assembly/rnn.ts). */
  rnnSequence(
    cell: number,
    x: number,
    batch: number,
    time: number,
    inDim: number,
    units: number,
    kernel: number,
    recKernel: number,
    bias: number,
    recBias: number,
    mask: number,
    act: number,
    actAlpha: number,
    recAct: number,
    recAlpha: number,
    flags: number,
    out: number,
    ldOut: number,
    work: number,
  ): void;
  /** In place a = merge(a, b): 1 sum, 2 mul, 3 ave. */
  rnnMerge(a: number, b: number, n: number, mode: number): void;
  // ---- training (wasm/assembly/*_grad.ts, loss.ts, optim.ts) ----
  /** C[m×n] (+)= Aᵀ·B, A is k×m (lda), B is k×n (ldb): dW = Xᵀ·dY. */
  gemmTN(
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    accumulate: number,
  ): void;
  /** C[m×n] (+)= A[m×k]·Bᵀ, B is n×k: dX = dY·Wᵀ. */
  gemmNT(
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    accumulate: number,
  ): void;
  /** dst[j] (+)= Σ_r src[r, j] (bias gradient). */
  columnSums(src: number, dst: number, rows: number, cols: number, accumulate: number): void;
  /** dz = dy·f'(z) from pre-activation z and output y (either 0 when unused); dz may be dy. */
  activationGrad(
    z: number,
    y: number,
    dy: number,
    dz: number,
    n: number,
    code: number,
    alpha: number,
  ): void;
  /** Softmax (or log-softmax) backward per row from the output y. */
  softmaxGradRows(
    y: number,
    dy: number,
    dz: number,
    rows: number,
    cols: number,
    logOutput: number,
  ): void;
  /** Keras 3 ReLU layer backward from its input (maxValue < 0: none). */
  reluGeneralGrad(
    x: number,
    dy: number,
    dx: number,
    n: number,
    negativeSlope: number,
    maxValue: number,
    threshold: number,
  ): void;
  /** c = a ⊙ b over n floats. */
  multiplyElementwise(a: number, b: number, c: number, n: number): void;
  /** c = a (accumulate 0) or c += a (accumulate 1) over n floats. */
  addInto(a: number, c: number, n: number, accumulate: number): void;
  /** Dropout training forward: y = x·scale, scale = keep ? 1/(1-rate) : 0 (hash of seed, offset+i). */
  dropoutForward(
    x: number,
    y: number,
    scale: number,
    n: number,
    rate: number,
    seed: number,
    offset: number,
  ): void;
  /** Σ w·L over rows, gradient into `grad` (0: none); mode 0 probs, 1 fused softmax, 2 logits. */
  sparseCategoricalCE(
    pred: number,
    labels: number,
    weights: number,
    grad: number,
    rows: number,
    cols: number,
    mode: number,
    gradScale: number,
    eps: number,
  ): number;
  /** As sparseCategoricalCE with a target distribution per row. */
  categoricalCE(
    pred: number,
    target: number,
    weights: number,
    grad: number,
    rows: number,
    cols: number,
    mode: number,
    gradScale: number,
    eps: number,
  ): number;
  /** Binary cross-entropy averaged over the last axis; mode 1 fused sigmoid, 2 logits. */
  binaryCE(
    pred: number,
    target: number,
    weights: number,
    grad: number,
    rows: number,
    cols: number,
    mode: number,
    gradScale: number,
    eps: number,
  ): number;
  /** Mean squared error over the last axis. */
  meanSquaredError(
    pred: number,
    target: number,
    weights: number,
    grad: number,
    rows: number,
    cols: number,
    gradScale: number,
  ): number;
  /** Σ x² (f64 accumulation). */
  sumSquares(p: number, n: number): number;
  /** x *= s. */
  scaleInPlace(p: number, n: number, s: number): void;
  /** x = clip(x, lo, hi). */
  clipInPlace(p: number, n: number, lo: number, hi: number): void;
  /** Keras 3 Adam step; alpha = lr·√(1-β2^t)/(1-β1^t). */
  adamUpdate(
    w: number,
    g: number,
    m: number,
    v: number,
    n: number,
    alpha: number,
    beta1: number,
    beta2: number,
    epsilon: number,
  ): void;
  /** Keras 3 SGD step (momentum, Nesterov). */
  sgdUpdate(
    w: number,
    g: number,
    m: number,
    n: number,
    lr: number,
    momentum: number,
    nesterov: number,
  ): void;
  /** Keras 3 RMSprop step (momentum, centered). */
  rmspropUpdate(
    w: number,
    g: number,
    v: number,
    mom: number,
    avg: number,
    n: number,
    lr: number,
    rho: number,
    momentum: number,
    epsilon: number,
    centered: number,
  ): void;
  /** Embedding backward: grad[ids[i]] += dy[i] (whole table zeroed first with `overwrite`). */
  embeddingGrad(
    ids: number,
    idsAreInt: number,
    dy: number,
    grad: number,
    n: number,
    inputDim: number,
    dim: number,
    overwrite: number,
  ): void;
  /** Scratch bytes `rnnTrainForward` needs. */
  rnnTrainWorkspaceBytes(cell: number, batch: number, units: number): number;
  /** `rnnSequence` that also records the tape of backprop through time (see rnn_grad.ts). */
  rnnTrainForward(
    cell: number,
    x: number,
    batch: number,
    time: number,
    inDim: number,
    units: number,
    kernel: number,
    recKernel: number,
    bias: number,
    recBias: number,
    mask: number,
    act: number,
    actAlpha: number,
    recAct: number,
    recAlpha: number,
    flags: number,
    out: number,
    ldOut: number,
    pre: number,
    hPrev: number,
    cPrev: number,
    aux: number,
    work: number,
  ): void;
  /** Scratch bytes `rnnBackward` needs. */
  rnnBackwardWorkspaceBytes(batch: number, units: number): number;
  /** Backprop through time: gate pre-activation gradients dA (and GRU reset_after's dAh). */
  rnnBackward(
    cell: number,
    batch: number,
    time: number,
    units: number,
    recKernel: number,
    mask: number,
    act: number,
    actAlpha: number,
    recAct: number,
    recAlpha: number,
    flags: number,
    dOut: number,
    ldOut: number,
    pre: number,
    hPrev: number,
    cPrev: number,
    aux: number,
    dA: number,
    dAh: number,
    work: number,
  ): void;
  // ---- CNN training (wasm/assembly/conv_grad.ts, pool_grad.ts, batchnorm_grad.ts) ----
  /**
   * Conv2D backward from dZ (pre-activation gradient): filter gradient into `dw` (Keras layout)
   * and/or dx from the kernel `w`; either output 0 to skip. Scratch ≥ `conv2dBackwardMinScratch`.
   */
  conv2dBackward(
    x: number,
    dz: number,
    w: number,
    dx: number,
    dw: number,
    scratch: number,
    scratchFloats: number,
    batch: number,
    h: number,
    wd: number,
    c: number,
    outH: number,
    outW: number,
    outC: number,
    kh: number,
    kw: number,
    sh: number,
    sw: number,
    dilationH: number,
    dilationW: number,
    padTop: number,
    padLeft: number,
  ): void;
  /** Floats of scratch `conv2dBackward` needs at least (wantDx 0 or 1). */
  conv2dBackwardMinScratch(kh: number, kw: number, c: number, outC: number, wantDx: number): number;
  /** Output pixels per tile `conv2dBackward` processes with `scratchFloats` floats of scratch. */
  conv2dBackwardTile(scratchFloats: number, k: number, total: number): number;
  /** The kernel of dx as a convolution of dZ: flipped in space, in/out channels swapped. */
  conv2dFlipKernel(w: number, dst: number, kh: number, kw: number, c: number, outC: number): void;
  /** dst (cols × rows) = srcᵀ; src rows are `lds` floats apart. */
  transposeMatrix(src: number, lds: number, dst: number, rows: number, cols: number): void;
  /** Max pooling forward that also records each output's argmax cell (iy·w + ix, int32). */
  maxPool2dTrain(
    x: number,
    y: number,
    arg: number,
    batch: number,
    h: number,
    w: number,
    c: number,
    outH: number,
    outW: number,
    ph: number,
    pw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
  ): void;
  /** Max (isAvg 0: to the recorded argmax) or average pooling backward; dx overwritten. */
  pool2dBackward(
    arg: number,
    dy: number,
    dx: number,
    batch: number,
    h: number,
    w: number,
    c: number,
    outH: number,
    outW: number,
    ph: number,
    pw: number,
    sh: number,
    sw: number,
    padTop: number,
    padLeft: number,
    isAvg: number,
  ): void;
  /** Global max / average pooling backward over `hw` positions; dx overwritten. */
  globalPool2dBackward(
    x: number,
    dy: number,
    dx: number,
    batch: number,
    hw: number,
    c: number,
    isAvg: number,
  ): void;
  /** Per-channel batch mean and biased variance of rows × c (`work`: 12·c bytes). */
  batchNormMoments(
    x: number,
    rows: number,
    c: number,
    mean: number,
    variance: number,
    work: number,
  ): void;
  /** BatchNormalization training backward: dgamma, dbeta and dx (0: skip); `work` 24·c bytes. */
  batchNormBackward(
    x: number,
    dy: number,
    dx: number,
    rows: number,
    c: number,
    mean: number,
    invStd: number,
    gamma: number,
    dgamma: number,
    dbeta: number,
    work: number,
  ): void;
  // deno-lint-ignore no-explicit-any
  [name: string]: any;
}

/** Raised when the runtime cannot run WebAssembly SIMD. */
export class WasmUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WasmUnavailableError";
  }
}

/** Whether this runtime validates a module that uses v128 SIMD. */
export function wasmSimdSupported(): boolean {
  // (module (func (result v128) i32.const 0 i8x16.splat))
  const probe = new Uint8Array([
    0,
    97,
    115,
    109,
    1,
    0,
    0,
    0,
    1,
    5,
    1,
    96,
    0,
    1,
    123,
    3,
    2,
    1,
    0,
    10,
    8,
    1,
    6,
    0,
    65,
    0,
    253,
    15,
    11,
  ]);
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(probe);
  } catch {
    return false;
  }
}

/**
 * Which build of the kernels runs: "relaxed" (relaxed SIMD: fused multiply-add, 6×8 GEMM tiles)
 * or "simd" (plain 128-bit SIMD, the fallback for runtimes without relaxed SIMD).
 */
export type KernelVariant = "relaxed" | "simd";

/** A kernel module instance with the heap over its memory. */
export interface KernelRuntime {
  kernels: KernelExports;
  heap: WasmHeap;
  variant: KernelVariant;
  /** The compiled module: worker threads instantiate it on the same memory. */
  module: WebAssembly.Module;
  /** The imported linear memory (shared where the runtime allows it). */
  memory: WebAssembly.Memory;
  /** Whether `memory` is a shared memory (a precondition for kernel threads). */
  shared: boolean;
}

function compileVariant(
  variant: KernelVariant,
  shared: boolean,
): { module: WebAssembly.Module; bytes: Uint8Array } | undefined {
  const base64 = variant === "relaxed" ? KERNELS_RELAXED_WASM_BASE64 : KERNELS_WASM_BASE64;
  const built = decodeBase64(base64);
  const bytes = shared ? built : withUnsharedMemory(built);
  try {
    return { module: new WebAssembly.Module(bytes as BufferSource), bytes };
  } catch (e) {
    // A runtime without relaxed SIMD rejects that build at compile time: fall back.
    if (variant === "relaxed" && e instanceof WebAssembly.CompileError) return undefined;
    throw e;
  }
}

/** The `env` imports of a kernel module instance on `memory`. */
export function kernelImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort(_msg: number, _file: number, line: number, column: number) {
        throw new Error(`scratchnet kernel aborted at ${line}:${column}`);
      },
    },
  };
}

/**
 * Instantiates a new kernel module and heap. Without `variant`, the relaxed-SIMD build when the
 * runtime compiles it, else the plain SIMD build; tests pass a variant to check both. The memory
 * is shared when the runtime supports it (see memory_import.ts).
 */
export function instantiateKernels(variant?: KernelVariant): KernelRuntime {
  if (!wasmSimdSupported()) {
    throw new WasmUnavailableError(
      "scratchnet needs WebAssembly with 128-bit SIMD (Chrome/Edge ≥ 91, Firefox ≥ 89, " +
        "Safari ≥ 16.4, Deno, Node ≥ 16.4); this runtime does not provide it.",
    );
  }
  const shared = sharedMemorySupported();
  let chosen: KernelVariant = variant ?? "relaxed";
  let compiled = compileVariant(chosen, shared);
  if (!compiled) {
    if (variant === "relaxed") {
      throw new WasmUnavailableError("this runtime does not support WebAssembly relaxed SIMD");
    }
    chosen = "simd";
    compiled = compileVariant(chosen, shared)!;
  }
  const limits = findMemoryImport(compiled.bytes);
  if (!limits) throw new Error("scratchnet kernel module does not import its memory");
  const memory = new WebAssembly.Memory(
    { initial: limits.initial, maximum: limits.maximum, shared } as WebAssembly.MemoryDescriptor,
  );
  const instance = new WebAssembly.Instance(compiled.module, kernelImports(memory));
  const kernels = instance.exports as unknown as KernelExports;
  return {
    kernels,
    heap: new WasmHeap(memory, kernels.heapBase()),
    variant: chosen,
    module: compiled.module,
    memory,
    shared,
  };
}

let runtime: KernelRuntime | undefined;

/** The process-wide kernel module and heap, created on first use. */
export function getRuntime(): KernelRuntime {
  runtime ??= instantiateKernels();
  return runtime;
}
