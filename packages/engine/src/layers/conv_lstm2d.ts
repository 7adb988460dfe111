/**
 * Keras `ConvLSTM2D`: an LSTM whose input and recurrent transformations are 2-D convolutions.
 *
 * Per step, with x_t [H, W, C] and the state h, c [H', W', f]:
 * `z = conv(x_t, kernel, strides, padding, dilation) + bias + conv(h, recurrent_kernel, 1, same)`,
 * then the LSTM gates (i, f, c, o) pixel by pixel. The input convolution of every step runs as one
 * batched `conv2d` over the B·T frames; each step then runs the recurrent `conv2d` over the B
 * states and the element-wise cell kernel (`lstmCellForward`, wasm/assembly/lstm_cell.ts).
 * Training keeps the pre-activations and the states before each step; the backward runs the
 * cell backward step by step (the recurrent convolution's input gradient feeding the previous
 * step), then the three weight gradients as single passes over all B·T frames.
 *
 * Cell `dropout` / `recurrent_dropout` act in training only, as Keras's `ConvLSTMCell`: four
 * masks per call (one per gate i, f, c, o), each drawn once per sequence and applied at every
 * step — input masks of one frame's shape on x, recurrent masks of the state's shape on h. Gate k
 * then convolves its own masked copy with its own block of the kernel, so with a mask the fused
 * convolution splits into four per-gate ones (each writing its channel block of the
 * pre-activations); without one the fused path runs unchanged.
 *
 * @module
 */
import { axisGeometry, refuseStridedDilation } from "../conv_geometry.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import type {
  CallContext,
  KerasVarGroup,
  LayerBuildOptions,
  LayerConfig,
  WeightSpec,
} from "../layer.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { ConvWindowLayer } from "./conv_window_layer.ts";
import type { LayerTraining, TrainContext } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape, sizeOf } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { convKernelToOnnx, emitActivation, emitConv, type OnnxLayerContext } from "../onnx_emit.ts";

import { convolveBackward, convolveDirect, type ConvShape, convShape } from "./conv2d_direct.ts";
import { cellActivations, type ElementwiseActivation } from "./recurrent.ts";
import { unitForgetBias } from "./lstm.ts";
import { dropoutScales } from "./dropout.ts";
import { dropoutRate, type RecurrentNoise } from "./recurrent_training.ts";
import { copyChannels } from "./conv2d.ts";

/**
 * What a ConvLSTM2D training forward leaves for the backward (device pointers, freed with the
 * step); the trainer keeps it in the step's tape under the layer.
 */
export interface ConvLstmTape {
  /** [B, T, H', W', 4f] gate pre-activations, by time position. */
  z: number;
  /** [B, T, H', W', f] the cell state before the step at each time position. */
  cPrev: number;
  /** [B, T, H', W', f] the output state before the step at each time position. */
  hPrev: number;
  /**
   * Keras `dropout`: per gate (i, f, c, o) an inverted-dropout mask [B, H, W, C] on x, the same
   * at every step; empty without input dropout.
   */
  inputMasks: number[];
  /**
   * Keras `recurrent_dropout`: per gate a mask [B, H', W', f] on the state h the recurrent
   * convolution reads, the same at every step; empty without recurrent dropout.
   */
  recurrentMasks: number[];
}

/** Keras's ConvLSTMCell draws one dropout mask per gate (`dropout_mask_count = 4`). */
const GATES = 4;

/** Salt of the recurrent masks' streams (recurrent_training.ts's second stream takes the same). */
const RECURRENT_STREAM = 0x5bd1e995;

/**
 * Keras `ConvLSTM2D` on `[batch, time, rows, cols, channels]` (channels_last only): `kernel`
 * `(kh, kw, channels, 4·filters)`, `recurrent_kernel` `(kh, kw, filters, 4·filters)`, `bias`
 * `(4·filters)`, gate order i, f, c, o; `padding` valid/same, `strides` or `dilation_rate` for the
 * input convolution (the recurrent one is always stride 1, `same`, undilated, as Keras's);
 * `return_sequences`, `return_state` (the final h and c, each [rows, cols, filters]),
 * `go_backwards`, `activation` / `recurrent_activation`, `unit_forget_bias`, `initial_state` (h
 * and c, each [rows, cols, filters]; their gradients flow back in fit). `stateful` is refused by
 * name. Cell `dropout` / `recurrent_dropout` (rates in [0, 1)) are inactive at inference; in fit
 * they drop, as Keras 3, with four masks per gate family drawn once per sequence: gate k reads
 * x ⊙ mask_k and h ⊙ recurrent_mask_k.
 */
export class ConvLSTM2D extends ConvWindowLayer {
  readonly filters: number;
  readonly useBias: boolean;
  readonly returnSequences: boolean;
  /** Keras `return_state`: a call also returns the final h and c. */
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  readonly activation: ElementwiseActivation;
  readonly recurrentActivation: ElementwiseActivation;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("ConvLSTM2D", config, options);
    this.filters = this.positiveInt("filters");
    refuseStridedDilation(this.name, this.strides, this.dilationRate);
    this.useBias = this.bool("use_bias", true);
    this.returnSequences = this.bool("return_sequences", false);
    this.returnState = this.bool("return_state", false);
    this.goBackwards = this.bool("go_backwards", false);
    if (this.bool("stateful", false)) {
      throw new LayerConfigError(this.name, "stateful", "true is not supported (stateless runs)");
    }
    const acts = cellActivations(config, this.name, options.kerasVersion);
    this.activation = acts.activation;
    this.recurrentActivation = acts.recurrentActivation;
  }

  override get outputCount(): number {
    return this.returnState ? 3 : 1;
  }

  override computeOutputShapeList(inputShapes: Shape[]): Shape[] {
    const out = this.computeOutputShapes(inputShapes);
    if (!this.returnState) return [out];
    const frame = this.returnSequences ? out.slice(1) : out;
    return [out, frame, frame];
  }

  /** The frames, optionally followed by the initial h and c (Keras `initial_state`). */
  override computeOutputShapes(inputShapes: Shape[]): Shape {
    const out = this.computeOutputShape(inputShapes[0]);
    const states = inputShapes.slice(1);
    if (states.length === 0) return out;
    const frame = this.returnSequences ? out.slice(1) : out;
    if (states.length !== 2) {
      throw new InputShapeError(
        this.name,
        "the frames and 2 initial state tensors (h, c)",
        `${inputShapes.length} tensors`,
      );
    }
    for (const s of states) {
      if (s.length !== 3 || s.some((d, i) => d !== null && d !== frame[i])) {
        throw new InputShapeError(
          this.name,
          `initial states of shape (batch, ${frame.join(", ")})`,
          formatShape(s),
        );
      }
    }
    return out;
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 4, "(time, rows, cols, channels) ");
    const [time, h, w, c] = inputShape;
    if (h === null || w === null || c === null) {
      throw new InputShapeError(
        this.name,
        "known rows, cols and channels (Keras needs static spatial dimensions)",
        formatShape(inputShape),
      );
    }
    const gy = axisGeometry(
      h,
      this.kernelSize[0],
      this.strides[0],
      this.dilationRate[0],
      this.padding,
    );
    const gx = axisGeometry(
      w,
      this.kernelSize[1],
      this.strides[1],
      this.dilationRate[1],
      this.padding,
    );
    if (gy.out === 0 || gx.out === 0) {
      throw new InputShapeError(
        this.name,
        `rows × cols that fit the ${this.kernelSize.join("×")} window (dilation ${
          this.dilationRate.join("×")
        }, padding ${this.padding})`,
        formatShape(inputShape),
      );
    }
    const frame = [gy.out, gx.out, this.filters];
    return this.returnSequences ? [time, ...frame] : frame;
  }

  override weightNames(): string[] {
    return this.useBias ? ["kernel", "recurrent_kernel", "bias"] : ["kernel", "recurrent_kernel"];
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const [kh, kw] = this.kernelSize;
    const g = 4 * this.filters;
    const specs: WeightSpec[] = [
      { name: "kernel", shape: [kh, kw, inputShape[3] as number, g] },
      { name: "recurrent_kernel", shape: [kh, kw, this.filters, g] },
    ];
    if (this.useBias) specs.push({ name: "bias", shape: [g] });
    return specs;
  }

  /**
   * Keras 3 keeps the weights in the cell (`cell/vars`, object `conv_lstm_cell`); the layer's own
   * `vars` group is empty.
   */
  override kerasVarGroups(): KerasVarGroup[] {
    return [
      { path: "vars", start: 0, count: 0 },
      {
        path: "cell/vars",
        start: 0,
        count: this.weightNames().length,
        objectName: "conv_lstm_cell",
      },
    ];
  }

  /** Keras `unit_forget_bias` (see {@link unitForgetBias}). */
  override initialWeight(
    name: string,
    shape: readonly number[],
    init: (shape: number[]) => Float32Array,
  ): Float32Array | undefined {
    return unitForgetBias(this.config, name, shape, init);
  }

  call(x: DeviceTensor, mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    return runConvLstm(this, [x], mask, ctx, null, false)[0];
  }

  /** The frames and, with `initial_state`, h0 and c0. */
  override callInputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor {
    return runConvLstm(this, xs, masks[0] ?? null, ctx, null, false)[0];
  }

  override callOutputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor[] {
    return runConvLstm(this, xs, masks[0] ?? null, ctx, null, this.returnState);
  }

  /** The geometry of the input convolution over all B·T frames of `x`. */
  inputConv(x: DeviceTensor): ConvShape {
    const [batch, time, ...frame] = x.shape;
    return convShape(batch * time, frame, 4 * this.filters, this);
  }

  /** The geometry of the recurrent convolution over `images` states of `outH × outW`. */
  recurrentConv(images: number, outH: number, outW: number): ConvShape {
    return convShape(images, [outH, outW, this.filters], 4 * this.filters, {
      kernelSize: this.kernelSize,
      strides: [1, 1],
      dilationRate: [1, 1],
      padding: "same",
    });
  }
}

/** Throws unless the initial states are float32 `[batch, ...frame]` each (none is fine). */
function checkStates(layer: ConvLSTM2D, states: readonly DeviceTensor[], want: number[]): void {
  if (states.length !== 0 && states.length !== 2) {
    throw new InputShapeError(layer.name, "2 initial state tensors (h, c)", `${states.length}`);
  }
  for (const s of states) {
    if (s.dtype !== "float32" || s.shape.join() !== want.join()) {
      throw new InputShapeError(
        layer.name,
        `initial states of shape [${want.join(", ")}]`,
        `${s.dtype} [${s.shape.join(", ")}]`,
      );
    }
  }
}

/** Throws unless `x` is a float32 `[batch, time ≥ 1, rows, cols, channels]` and no mask came. */
function checkInput(layer: ConvLSTM2D, x: DeviceTensor, mask: DeviceTensor | null): void {
  if (x.dtype !== "float32" || x.shape.length !== 5 || x.shape[1] < 1) {
    throw new InputShapeError(
      layer.name,
      "float32 (batch, time ≥ 1, rows, cols, channels)",
      `${x.dtype} [${x.shape.join(", ")}]`,
    );
  }
  if (mask) {
    throw new InputShapeError(
      layer.name,
      "no mask (ConvLSTM2D does not run masked sequences yet)",
      `a mask of shape [${mask.shape.join(", ")}]`,
    );
  }
}

/** Allocates `floats` floats set to zero. */
function zeros(ctx: CallContext, floats: number): number {
  const p = ctx.heap.alloc(floats * 4);
  ctx.heap.f32(p, floats).fill(0);
  return p;
}

/**
 * Gate k's block of a kernel `(…taps, 4f)`: the `taps × f` columns k·f … (k+1)·f, one device
 * buffer per gate (the caller frees them).
 */
function gateKernels(heap: WasmHeap, kernel: number, taps: number, f: number): number[] {
  const out: number[] = [];
  try {
    for (let k = 0; k < GATES; k++) {
      out.push(heap.alloc(taps * f * 4));
      copyChannels(heap, kernel, GATES * f, k * f, out[k], f, 0, f, taps);
    }
  } catch (e) {
    for (const q of out) heap.free(q);
    throw e;
  }
  return out;
}

/**
 * The seed of gate `gate`'s mask within the stream `seed` (an avalanche hash: the dropout hash
 * XORs its seed with a multiple of the element index, so near seeds would give related masks).
 */
function gateSeed(seed: number, gate: number): number {
  let h = (seed ^ Math.imul(gate + 1, 0x9e3779b9)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/**
 * The four per-gate masks of one dropout family: each [batch, perSample] from its own stream of
 * `seed`, rows counted from `noise.sampleOffset` (a worker's slice draws the rows a single thread
 * would). The caller frees them.
 */
function gateMasks(
  ctx: CallContext,
  batch: number,
  perSample: number,
  rate: number,
  seed: number,
  sampleOffset: number,
): number[] {
  const masks: number[] = [];
  try {
    for (let k = 0; k < GATES; k++) {
      masks.push(dropoutScales(ctx, batch, perSample, rate, gateSeed(seed, k), sampleOffset));
    }
  } catch (e) {
    for (const q of masks) ctx.heap.free(q);
    throw e;
  }
  return masks;
}

/**
 * The input convolution under cell dropout: gate k convolves x ⊙ mask_k (each sample's mask at
 * every step) with its kernel block and bias block into z's k-th channel block.
 */
function convolveInputPerGate(
  ctx: CallContext,
  layer: ConvLSTM2D,
  gi: ConvShape,
  x: DeviceTensor,
  masks: readonly number[],
  kernel: number,
  bias: number,
  z: number,
): void {
  const { kernels, heap } = ctx;
  const [batch, time, ...frame] = x.shape;
  const f = layer.filters;
  const pixels = gi.images * gi.outH * gi.outW;
  const gate: ConvShape = { ...gi, outC: f };
  const bufs: number[] = [];
  try {
    const xk = heap.alloc(sizeOf(x.shape) * 4);
    bufs.push(xk);
    const zk = heap.alloc(pixels * f * 4);
    bufs.push(zk);
    const kernelK = gateKernels(heap, kernel, gi.kh * gi.kw * gi.c, f);
    bufs.push(...kernelK);
    for (let k = 0; k < GATES; k++) {
      kernels.rnnMaskRows(x.ptr, masks[k], xk, batch, time, sizeOf(frame));
      convolveDirect(ctx, gate, xk, kernelK[k], bias ? bias + k * f * 4 : 0, zk);
      copyChannels(heap, zk, f, 0, z, GATES * f, k * f, f, pixels);
    }
  } finally {
    for (const q of bufs) heap.free(q);
  }
}

/**
 * One step's recurrent convolution under recurrent dropout: gate k convolves h ⊙ mask_k with its
 * recurrent-kernel block (`recK[k]`) into `rec`'s k-th channel block. `hk` and `rk` are scratch
 * of one gate's input (the states' size) and output.
 */
function convolveRecurrentPerGate(
  ctx: CallContext,
  gate: ConvShape,
  h: number,
  masks: readonly number[],
  recK: readonly number[],
  rec: number,
  hk: number,
  rk: number,
): void {
  const f = gate.outC;
  const pixels = gate.images * gate.outH * gate.outW;
  const n = pixels * gate.c;
  for (let k = 0; k < GATES; k++) {
    ctx.kernels.multiplyElementwise(h, masks[k], hk, n);
    convolveDirect(ctx, gate, hk, recK[k], 0, rk);
    copyChannels(ctx.heap, rk, f, 0, rec, GATES * f, k * f, f, pixels);
  }
}

/**
 * The layer's forward over `[x, h0?, c0?]`, x [B, T, H, W, C] (zero states without h0 and c0);
 * with a `tape` (training) the pre-activations and the states before each step stay on the device
 * for the backward. With a tape and `noise` the cell's dropout is active (its masks join the
 * tape). Returns the output, then with `withStates` the final h and c.
 */
function runConvLstm(
  layer: ConvLSTM2D,
  xs: readonly DeviceTensor[],
  mask: DeviceTensor | null,
  ctx: CallContext,
  tape: ((t: ConvLstmTape) => void) | null,
  withStates: boolean,
  noise: RecurrentNoise | null = null,
): DeviceTensor[] {
  const x = xs[0];
  checkInput(layer, x, mask);
  const { kernels, heap } = ctx;
  const [batch, time] = x.shape;
  const gi = layer.inputConv(x);
  const initial = xs.slice(1);
  if (gi.outH === 0 || gi.outW === 0) {
    throw new InputShapeError(
      layer.name,
      `rows × cols that fit the ${layer.kernelSize.join("×")} window`,
      `[${x.shape.join(", ")}]`,
    );
  }
  const gr = layer.recurrentConv(batch, gi.outH, gi.outW);
  const f = layer.filters, p = gi.outH * gi.outW;
  const stepU = p * f, stepG = 4 * p * f; // floats of one sample's state / gates per step
  const [kernel, recKernel, bias] = layer.deviceWeights();
  const { code: act, alpha: actAlpha } = layer.activation;
  const { code: recAct, alpha: recAlpha } = layer.recurrentActivation;
  const frame = [gi.outH, gi.outW, f];
  checkStates(layer, initial, [batch, ...frame]);
  const yShape = layer.returnSequences ? [batch, time, ...frame] : [batch, ...frame];
  const y: DeviceTensor = { ptr: heap.alloc(sizeOf(yShape) * 4), shape: yShape, dtype: "float32" };
  const owned: number[] = [];
  const own = (ptr: number) => (owned.push(ptr), ptr);
  const states: DeviceTensor[] = [];
  let kept: ConvLstmTape | null = null;
  try {
    // The pre-activations of every step: the input convolution, then each step adds its
    // recurrent convolution in place (so for training they are the tape as they stand).
    const z = heap.alloc(batch * time * stepG * 4);
    if (tape) kept = { z, cPrev: 0, hPrev: 0, inputMasks: [], recurrentMasks: [] };
    else own(z);
    const inRate = tape && noise ? dropoutRate(layer, "dropout") : 0;
    const recRate = tape && noise ? dropoutRate(layer, "recurrent_dropout") : 0;
    if (kept && noise && inRate > 0) {
      const perSample = sizeOf(x.shape.slice(2));
      const { seed, sampleOffset } = noise;
      kept.inputMasks = gateMasks(ctx, batch, perSample, inRate, seed, sampleOffset);
    }
    if (kept && noise && recRate > 0) {
      const seed = (noise.seed ^ RECURRENT_STREAM) >>> 0;
      kept.recurrentMasks = gateMasks(ctx, batch, stepU, recRate, seed, noise.sampleOffset);
    }
    const inputMasks = kept?.inputMasks ?? [], recurrentMasks = kept?.recurrentMasks ?? [];
    const biasPtr = layer.useBias ? bias : 0;
    if (inputMasks.length) {
      convolveInputPerGate(ctx, layer, gi, x, inputMasks, kernel, biasPtr, z);
    } else convolveDirect(ctx, gi, x.ptr, kernel, biasPtr, z);
    const h = own(zeros(ctx, batch * stepU));
    const c = own(zeros(ctx, batch * stepU));
    if (initial.length) {
      kernels.addInto(initial[0].ptr, h, batch * stepU, 0);
      kernels.addInto(initial[1].ptr, c, batch * stepU, 0);
    }
    const rec = own(heap.alloc(batch * stepG * 4));
    // Recurrent dropout: each gate's kernel block, and scratch for one gate's input and output.
    const recK = recurrentMasks.length ? gateKernels(heap, recKernel, gr.kh * gr.kw * f, f) : [];
    owned.push(...recK);
    const hk = recurrentMasks.length ? own(heap.alloc(batch * stepU * 4)) : 0;
    const rk = recurrentMasks.length ? own(heap.alloc(batch * stepU * 4)) : 0;
    const gateRec: ConvShape = { ...gr, outC: f };
    if (kept) {
      kept.cPrev = heap.alloc(batch * time * stepU * 4);
      kept.hPrev = heap.alloc(batch * time * stepU * 4);
    }
    for (let s = 0; s < time; s++) {
      const t = layer.goBackwards ? time - 1 - s : s;
      // Without initial states the first step's state is zero: its recurrent convolution adds
      // nothing.
      const recurrent = s > 0 || initial.length > 0;
      if (recurrent && recurrentMasks.length) {
        convolveRecurrentPerGate(ctx, gateRec, h, recurrentMasks, recK, rec, hk, rk);
      } else if (recurrent) convolveDirect(ctx, gr, h, recKernel, 0, rec);
      for (let b = 0; b < batch; b++) {
        const row = b * time + t;
        const zt = z + row * stepG * 4;
        const hb = h + b * stepU * 4, cb = c + b * stepU * 4;
        if (kept) {
          kernels.addInto(cb, kept.cPrev + row * stepU * 4, stepU, 0);
          kernels.addInto(hb, kept.hPrev + row * stepU * 4, stepU, 0);
        }
        if (recurrent) kernels.addInto(rec + b * stepG * 4, zt, stepG, 1);
        kernels.lstmCellForward(zt, cb, hb, p, f, act, actAlpha, recAct, recAlpha);
        // Keras's output sequence is in processing order (reversed with go_backwards).
        if (layer.returnSequences) {
          kernels.addInto(hb, y.ptr + (b * time + s) * stepU * 4, stepU, 0);
        }
      }
    }
    if (!layer.returnSequences) kernels.addInto(h, y.ptr, batch * stepU, 0);
    if (withStates) {
      for (const state of [h, c]) {
        const t: DeviceTensor = {
          ptr: heap.alloc(batch * stepU * 4),
          shape: [batch, ...frame],
          dtype: "float32",
        };
        kernels.addInto(state, t.ptr, batch * stepU, 0);
        states.push(t);
      }
    }
  } catch (e) {
    heap.free(y.ptr);
    for (const t of states) heap.free(t.ptr);
    if (kept) { for (const q of tapeBuffers(kept)) heap.free(q); }
    throw e;
  } finally {
    for (const q of owned) heap.free(q);
  }
  if (tape && kept) tape(kept);
  return [y, ...states];
}

/** The device buffers of a tape (to keep for the step, or free). */
function tapeBuffers(tape: ConvLstmTape): number[] {
  const all = [tape.z, tape.cPrev, tape.hPrev, ...tape.inputMasks, ...tape.recurrentMasks];
  return all.filter((q) => q !== 0);
}

/**
 * Backprop through time from dy (laid out as the forward wrote y) and the tape: returns dx and,
 * when the call passed initial states, their gradients dh0 and dc0 (each null when not needed),
 * and OVERWRITES the weight gradients `grads` (0 entries skipped).
 */
function backwardConvLstm(
  layer: ConvLSTM2D,
  x: DeviceTensor,
  dy: DeviceTensor,
  dStates: readonly (DeviceTensor | null)[],
  tape: ConvLstmTape,
  grads: readonly number[],
  needInputGrads: readonly boolean[],
  initialStates: boolean,
  ctx: TrainContext,
): (DeviceTensor | null)[] {
  const { kernels, heap } = ctx;
  const [batch, time] = x.shape;
  const gi = layer.inputConv(x);
  const gr = layer.recurrentConv(batch, gi.outH, gi.outW);
  const f = layer.filters, p = gi.outH * gi.outW;
  const stepU = p * f, stepG = 4 * p * f;
  const [kernel, recKernel] = layer.deviceWeights();
  const { code: act, alpha: actAlpha } = layer.activation;
  const { code: recAct, alpha: recAlpha } = layer.recurrentActivation;
  const bufs: number[] = [];
  const alloc = (floats: number) => {
    const q = heap.alloc(floats * 4);
    bufs.push(q);
    return q;
  };
  // Whether step s ran the recurrent convolution (not a first step from zero states).
  const recurrent = (s: number) => s > 0 || initialStates;
  const { inputMasks, recurrentMasks } = tape;
  const pixels = batch * p; // rows of one step's states
  let dx: DeviceTensor | null = null;
  const stateGrads: (DeviceTensor | null)[] = [];
  try {
    // Recurrent dropout: each gate's recurrent-kernel block; one gate's dz and dh of a step.
    const recTaps = gr.kh * gr.kw * f;
    const recK = recurrentMasks.length ? gateKernels(heap, recKernel, recTaps, f) : [];
    bufs.push(...recK);
    const dzk = recurrentMasks.length ? alloc(pixels * f) : 0;
    const dhk = recurrentMasks.length ? alloc(batch * stepU) : 0;
    const gateRec: ConvShape = { ...gr, outC: f };
    const dz = alloc(batch * time * stepG);
    const dh = alloc(batch * stepU);
    const dc = alloc(batch * stepU);
    heap.f32(dc, batch * stepU).fill(0);
    if (layer.returnSequences) heap.f32(dh, batch * stepU).fill(0);
    else kernels.addInto(dy.ptr, dh, batch * stepU, 0);
    // return_state: the final h and c's own gradients join at the last step.
    const [dhT, dcT] = dStates;
    if (dhT) kernels.addInto(dhT.ptr, dh, batch * stepU, 1);
    if (dcT) kernels.addInto(dcT.ptr, dc, batch * stepU, 1);
    const dzStep = alloc(batch * stepG); // one step's dz, contiguous for the recurrent conv
    for (let s = time - 1; s >= 0; s--) {
      const t = layer.goBackwards ? time - 1 - s : s;
      for (let b = 0; b < batch; b++) {
        const row = b * time + t;
        const dhb = dh + b * stepU * 4;
        if (layer.returnSequences) {
          kernels.addInto(dy.ptr + (b * time + s) * stepU * 4, dhb, stepU, 1);
        }
        kernels.lstmCellBackward(
          tape.z + row * stepG * 4,
          tape.cPrev + row * stepU * 4,
          dhb,
          dc + b * stepU * 4,
          dz + row * stepG * 4,
          p,
          f,
          act,
          actAlpha,
          recAct,
          recAlpha,
        );
        if (recurrent(s)) {
          kernels.addInto(dz + row * stepG * 4, dzStep + b * stepG * 4, stepG, 0);
        }
      }
      // ∂loss/∂h of the previous step (of h0 at the first): the recurrent convolution's input
      // gradient; dc is ∂loss/∂c of the previous step already. Under recurrent dropout gate k
      // read h ⊙ mask_k: dh = Σ_k mask_k ⊙ (its convolution's input gradient).
      if (recurrent(s) && recurrentMasks.length) {
        for (let k = 0; k < GATES; k++) {
          copyChannels(heap, dzStep, GATES * f, k * f, dzk, f, 0, f, pixels);
          convolveBackward(ctx, gateRec, 0, dzk, recK[k], dhk, 0);
          kernels.multiplyElementwise(dhk, recurrentMasks[k], dhk, batch * stepU);
          kernels.addInto(dhk, dh, batch * stepU, k > 0 ? 1 : 0);
        }
      } else if (recurrent(s)) convolveBackward(ctx, gr, 0, dzStep, recKernel, dh, 0);
    }
    if (initialStates) {
      for (const [k, d] of [dh, dc].entries()) {
        if (!needInputGrads[1 + k]) {
          stateGrads.push(null);
          continue;
        }
        const g: DeviceTensor = {
          ptr: heap.alloc(batch * stepU * 4),
          shape: [batch, gi.outH, gi.outW, f],
          dtype: "float32",
        };
        stateGrads.push(g);
        kernels.addInto(d, g.ptr, batch * stepU, 0);
      }
    }
    // Weight gradients over all B·T frames at once (a first step's zero state adds nothing).
    const allFrames = layer.recurrentConv(batch * time, gi.outH, gi.outW);
    if (!recurrentMasks.length) {
      convolveBackward(ctx, allFrames, tape.hPrev, dz, recKernel, 0, grads[1] ?? 0);
    }
    if (layer.useBias && grads[2]) kernels.columnSums(dz, grads[2], batch * time * p, 4 * f, 0);
    if (needInputGrads[0]) {
      dx = { ptr: heap.alloc(sizeOf(x.shape) * 4), shape: [...x.shape], dtype: "float32" };
    }
    if (!inputMasks.length) {
      convolveBackward(ctx, gi, x.ptr, dz, kernel, dx ? dx.ptr : 0, grads[0] ?? 0);
    }
    const gateRecurrentGrads = recurrentMasks.length > 0 && !!grads[1];
    const gateInputGrads = inputMasks.length > 0 && (!!dx || !!grads[0]);
    if (gateRecurrentGrads || gateInputGrads) {
      // Per gate: its block of dz over all frames against what the gate read (the masked input
      // and state); each kernel gradient lands in the gate's column block.
      const frames = batch * time * p;
      const dzAll = alloc(frames * f);
      const dW = alloc(Math.max(recTaps, gi.kh * gi.kw * gi.c) * f);
      const hSeen = gateRecurrentGrads ? alloc(batch * time * stepU) : 0;
      const xSize = sizeOf(x.shape), frameIn = xSize / (batch * time);
      const xSeen = gateInputGrads ? alloc(xSize) : 0;
      const dxk = gateInputGrads && dx ? alloc(xSize) : 0;
      const kernelK = gateInputGrads ? gateKernels(heap, kernel, gi.kh * gi.kw * gi.c, f) : [];
      bufs.push(...kernelK);
      const gateFrames: ConvShape = { ...allFrames, outC: f };
      const gateInput: ConvShape = { ...gi, outC: f };
      for (let k = 0; k < GATES; k++) {
        copyChannels(heap, dz, GATES * f, k * f, dzAll, f, 0, f, frames);
        if (gateRecurrentGrads) {
          kernels.rnnMaskRows(tape.hPrev, recurrentMasks[k], hSeen, batch, time, stepU);
          convolveBackward(ctx, gateFrames, hSeen, dzAll, recK[k], 0, dW);
          copyChannels(heap, dW, f, 0, grads[1], GATES * f, k * f, f, recTaps);
        }
        if (gateInputGrads) {
          kernels.rnnMaskRows(x.ptr, inputMasks[k], xSeen, batch, time, frameIn);
          const wantW = !!grads[0];
          convolveBackward(ctx, gateInput, xSeen, dzAll, kernelK[k], dxk, wantW ? dW : 0);
          if (wantW) {
            const taps = gi.kh * gi.kw * gi.c;
            copyChannels(heap, dW, f, 0, grads[0], GATES * f, k * f, f, taps);
          }
          if (dx) {
            // Gate k read x ⊙ mask_k: its share of dx goes through the same mask.
            kernels.rnnMaskRows(dxk, inputMasks[k], dxk, batch, time, frameIn);
            kernels.addInto(dxk, dx.ptr, xSize, k > 0 ? 1 : 0);
          }
        }
      }
    }
  } catch (e) {
    for (const t of [dx, ...stateGrads]) if (t) heap.free(t.ptr);
    throw e;
  } finally {
    for (const q of bufs) heap.free(q);
  }
  return [dx, ...stateGrads];
}

/** A training forward: the tape goes to `ctx.tape`; with `return_state` the states follow. */
function trainCall(
  layer: ConvLSTM2D,
  xs: readonly DeviceTensor[],
  mask: DeviceTensor | null,
  ctx: TrainContext,
): DeviceTensor[] {
  // Checked on every training call, as the other recurrent layers do (inference ignores them).
  for (const field of ["dropout", "recurrent_dropout"]) dropoutRate(layer, field);
  // A call in inference mode (`training=False`) draws no masks; the seed is the layer's stream of
  // the step and the sample offset the slice's, so workers draw a single thread's masks.
  const noise: RecurrentNoise | null = ctx.training
    ? { seed: ctx.seedFor(layer), sampleOffset: ctx.sampleOffset }
    : null;
  return runConvLstm(
    layer,
    xs,
    mask,
    ctx,
    (tape) => {
      for (const q of tapeBuffers(tape)) ctx.keep(q);
      ctx.tape.set(layer, tape);
    },
    layer.returnState,
    noise,
  );
}

/**
 * ConvLSTM2D in training: the forward records the pre-activations and the states before each
 * step ({@link runConvLstm}) and the cell-dropout masks; the backward is
 * {@link backwardConvLstm}.
 */
const CONV_LSTM2D_TRAINING: LayerTraining<ConvLSTM2D> = {
  forward(layer, x, mask, ctx) {
    return trainCall(layer, [x], mask, ctx)[0];
  },

  forwardInputs(layer, xs, masks, ctx) {
    const outs = trainCall(layer, xs, masks[0] ?? null, ctx);
    return outs.length > 1 ? outs : outs[0];
  },

  backward(layer, a) {
    const tape = a.ctx.tape.get(layer) as ConvLstmTape | undefined;
    if (!tape) throw new Error(`layer "${layer.name}": backward without a training forward`);
    const initialStates = a.xs.length > 1;
    const grads = backwardConvLstm(
      layer,
      a.x,
      a.dy,
      a.dys.slice(1),
      tape,
      a.grads,
      initialStates ? a.needInputGrads : [a.needInputGrad],
      initialStates,
      a.ctx,
    );
    return initialStates ? grads : grads[0];
  },
};

/**
 * ConvLSTM2D in ONNX, unrolled over its (static) timesteps — ONNX has no convolutional LSTM
 * operator: the input convolution over all B·T frames at once, then per step the recurrent
 * convolution of h (same padding, stride 1), the gates split in Keras's order i, f, c, o, and
 * `c = f·c + i·act(g)`, `h = o·act(c)`; the first step starts from zero states. Outputs follow the
 * processing order (reversed with `go_backwards`), as Keras's.
 */
function convLstm2dOnnx(layer: ConvLSTM2D, ctx: OnnxLayerContext): void {
  if (layer.returnState) ctx.refuse("return_state (the unrolled export writes the output only)");
  if (ctx.inputShapes.length > 1) {
    ctx.refuse("initial_state (the unrolled export starts from zeros)");
  }
  const [time, h, w, c] = ctx.inputShapes[0];
  if (time === null) ctx.refuse("unknown timesteps (the export unrolls the steps)");
  const steps = time as number, f = layer.filters;
  const frame = layer.returnSequences ? ctx.outputShape.slice(1) : ctx.outputShape;
  const [oh, ow] = frame as number[];
  const [kernel, recurrent, bias] = layer.getWeights();
  const [kh, kw] = layer.kernelSize;
  // Every frame's input convolution: [B·T, H, W, C] → [B, T, H', W', 4f].
  const frames = ctx.fresh("frames"), zxFlat = ctx.fresh("zx_frames"), zx = ctx.fresh("zx");
  ctx.node("Reshape", [
    ctx.inputs[0],
    ctx.int64s("shape", [-1, h as number, w as number, c as number]),
  ], [
    frames,
  ]);
  emitConv(ctx, {
    input: frames,
    output: zxFlat,
    rank: 4,
    weight: convKernelToOnnx(kernel.data, kernel.shape),
    weightDims: [4 * f, c as number, kh, kw],
    bias: layer.useBias ? bias.data : undefined,
    strides: layer.strides,
    dilations: layer.dilationRate,
    padding: layer.padding,
    group: 1,
  });
  ctx.node("Reshape", [zxFlat, ctx.int64s("shape", [-1, steps, oh, ow, 4 * f])], [zx]);
  const recurrentWeight = convKernelToOnnx(recurrent.data, recurrent.shape);
  const split = ctx.int64s("split", [f, f, f, f]);
  let hPrev = "", cPrev = "";
  const outputs: string[] = [];
  for (let s = 0; s < steps; s++) {
    const t = layer.goBackwards ? steps - 1 - s : s;
    const xt = ctx.fresh("zx_step");
    ctx.node("Gather", [zx, ctx.initializer("step", { int64: [t] }, [])], [xt], {
      axis: { int: 1 },
    });
    let z = xt;
    if (hPrev) {
      const zh = ctx.fresh("zh_step");
      emitConv(ctx, {
        input: hPrev,
        output: zh,
        rank: 4,
        weight: recurrentWeight,
        weightDims: [4 * f, f, kh, kw],
        strides: [1, 1],
        dilations: [1, 1],
        padding: "same",
        group: 1,
      });
      z = ctx.fresh("z_step");
      ctx.node("Add", [xt, zh], [z]);
    }
    const gates = ["i", "f", "g", "o"].map((g) => ctx.fresh(`gate_${g}`));
    ctx.node("Split", [z, split], gates, { axis: { int: -1 } });
    const [i, fg, g, o] = gates.map((gate, k) => {
      const out = ctx.fresh(`${gate}_act`);
      emitActivation(ctx, k === 2 ? layer.activation : layer.recurrentActivation, gate, out);
      return out;
    });
    const ig = ctx.fresh("i_g"), cNew = ctx.fresh("c");
    ctx.node("Mul", [i, g], [ig]);
    if (cPrev) {
      const kept = ctx.fresh("f_c");
      ctx.node("Mul", [fg, cPrev], [kept]);
      ctx.node("Add", [kept, ig], [cNew]);
    } else {
      ctx.node("Identity", [ig], [cNew]);
    }
    const cAct = ctx.fresh("c_act");
    emitActivation(ctx, layer.activation, cNew, cAct);
    const last = s === steps - 1 && !layer.returnSequences;
    const hNew = last ? ctx.output : ctx.fresh("h");
    ctx.node("Mul", [o, cAct], [hNew]);
    hPrev = hNew;
    cPrev = cNew;
    if (layer.returnSequences) {
      const step = ctx.fresh("h_step");
      ctx.node("Unsqueeze", [hNew, ctx.int64s("axes", [1])], [step]);
      outputs.push(step);
    }
  }
  if (layer.returnSequences) ctx.node("Concat", outputs, [ctx.output], { axis: { int: 1 } });
}

/** The `ConvLSTM2D` layer class (see `layer_class.ts`). */
export const CONV_LSTM2D: LayerClass<ConvLSTM2D> = defineLayer({
  className: "ConvLSTM2D",
  create: (config, options) => new ConvLSTM2D(config, options),
  training: CONV_LSTM2D_TRAINING,
  onnx: convLstm2dOnnx,
});
