/**
 * The shared base of SimpleRNN, LSTM and GRU: config parsing, shapes, weight specs, and one call
 * of the `rnnSequence` kernel (a whole batch through a whole sequence).
 */
import { type Activation, resolveActivation } from "../activations.ts";
import { InputShapeError, LayerConfigError } from "../errors.ts";
import { gateCount, RnnCell, RnnFlag } from "../kernels/rnn_codes.ts";
import {
  type CallContext,
  type KerasVarGroup,
  type LayerBuildOptions,
  type LayerConfig,
  MultiOutputLayer,
  type WeightSpec,
} from "../layer.ts";
import { type DeviceTensor, formatShape, type Shape } from "../tensor.ts";
import type { WasmHeap } from "../wasm/heap.ts";
import { DerivedWeights } from "../derived_weights.ts";
import { type KernelJob, parallelRanges, runJobs } from "../wasm/threads.ts";

/** Where and how one recurrent run writes its output (Bidirectional writes slices). */
export interface RecurrentOutput {
  /** Byte pointer of the first output row. */
  ptr: number;
  /** Floats between consecutive output rows. */
  rowStride: number;
  /** Write step s at time position T-1-s (Bidirectional's flip of the backward output). */
  reverse: boolean;
  /** Masked steps output zeros instead of repeating the previous output. */
  zeroOutputForMask: boolean;
}

/**
 * Device pointers of a recurrent run's states, each [batch, units] (0: none). `h0` / `c0`: the
 * initial state (Keras `initial_state`; zeros when 0); `hT` / `cT` receive the final state
 * (`return_state`). `c*` are LSTM's cell state.
 */
export interface RecurrentStates {
  h0: number;
  c0: number;
  hT: number;
  cT: number;
}

/** A run with zero initial states whose final states are not wanted. */
export const NO_STATES: Readonly<RecurrentStates> = Object.freeze({ h0: 0, c0: 0, hT: 0, cT: 0 });

/**
 * The progress counters of a run that is a stage of a wavefront of stacked layers (see
 * `recurrent_wavefront.ts` and `rnnSequence`): byte addresses of i32s in the kernels' memory, 0
 * for none.
 */
export interface WavefrontCounters {
  /** The lower layer's counter: the steps of x written so far (-1: it failed). */
  inputReady: number;
  /** This run's counter: the steps of its output written so far. */
  outputReady: number;
}

/** A run outside any wavefront. */
export const NO_WAVEFRONT: Readonly<WavefrontCounters> = Object.freeze({
  inputReady: 0,
  outputReady: 0,
});

/** One stage of a wavefront, built but not run: see {@link RecurrentLayer.wavefrontStage}. */
export interface WavefrontStageRun {
  /** The stage's output (the caller owns it). */
  y: DeviceTensor;
  /** The one kernel call computing it. */
  job: KernelJob;
  /** To call after the job ran: writes the outputs of steps outside the run's window. */
  finish: () => void;
  /** Buffers to free after `finish`. */
  works: number[];
}

/** An activation applied value by value (what a recurrent cell can fuse per unit). */
export type ElementwiseActivation = Extract<Activation, { kind: "elementwise" }>;

/**
 * A recurrent cell's `field` activation (`value`; `fallback` when absent — an explicit null is
 * Keras's `None`, linear): element-wise only (softmax cannot be fused per unit).
 */
function cellActivation(
  value: unknown,
  fallback: string,
  layerName: string,
  field: string,
  kerasVersion?: string,
): ElementwiseActivation {
  const act = resolveActivation(
    value === undefined ? fallback : value,
    layerName,
    kerasVersion,
    field,
  );
  if (act.kind !== "elementwise") {
    throw new LayerConfigError(
      layerName,
      field,
      `${act.name} is not supported in a recurrent cell (element-wise activations only)`,
    );
  }
  return act;
}

/**
 * A recurrent cell's `activation` (default tanh) and `recurrent_activation` (default sigmoid),
 * element-wise only: what RNN layers and ConvLSTM2D read from their config.
 */
export function cellActivations(
  config: LayerConfig,
  layerName: string,
  kerasVersion?: string,
): { activation: ElementwiseActivation; recurrentActivation: ElementwiseActivation } {
  return {
    activation: cellActivation(config.activation, "tanh", layerName, "activation", kerasVersion),
    recurrentActivation: cellActivation(
      config.recurrent_activation,
      "sigmoid",
      layerName,
      "recurrent_activation",
      kerasVersion,
    ),
  };
}

/** Base class of the Keras recurrent layers the engine runs. */
export abstract class RecurrentLayer extends MultiOutputLayer {
  readonly units: number;
  readonly useBias: boolean;
  readonly returnSequences: boolean;
  /** Keras `return_state`: a call also returns the final state(s) (LSTM: h and c). */
  readonly returnState: boolean;
  readonly goBackwards: boolean;
  /** Keras RNN `zero_output_for_mask` (default false; Bidirectional overrides it per call). */
  readonly zeroOutputForMask: boolean;
  readonly activation: ElementwiseActivation;
  readonly recurrentActivation: ElementwiseActivation;
  abstract readonly cell: RnnCell;

  constructor(className: string, config: LayerConfig, options: LayerBuildOptions = {}) {
    super(className, config, options);
    this.units = this.num("units", undefined, true);
    if (this.units < 1) {
      throw new LayerConfigError(this.name, "units", `expected >= 1, got ${this.units}`);
    }
    this.useBias = this.bool("use_bias", true);
    this.returnSequences = this.bool("return_sequences", false);
    this.returnState = this.bool("return_state", false);
    this.goBackwards = this.bool("go_backwards", false);
    this.zeroOutputForMask = this.bool("zero_output_for_mask", false);
    for (const field of ["stateful", "time_major"]) {
      if (this.bool(field, false)) {
        throw new LayerConfigError(
          this.name,
          field,
          `true is not supported (the engine runs stateless layers, batch first)`,
        );
      }
    }
    // `unroll` does not change results; dropout / recurrent_dropout are inactive at inference.
    const acts = cellActivations(config, this.name, options.kerasVersion);
    this.activation = acts.activation;
    this.recurrentActivation = acts.recurrentActivation;
  }

  /**
   * The recurrent kernel in the row path's blocks (`rnnPackRowKernel`): made at the first run
   * after each weights change, freed with the weights; ptr 0 when the row path does not take the
   * units.
   */
  readonly #rowKernel = new DerivedWeights();

  /**
   * The device pointer of the recurrent kernel in the row path's blocks, which steps of one or
   * two rows (batch 1, or a masked batch's last running rows) read as contiguous streams: one
   * copy per weights version instead of one per run. 0 when the row path does not take the units.
   */
  rowKernel(ctx: CallContext): number {
    const { kernels, heap } = ctx;
    return this.#rowKernel.get(heap, this.weightsVersion, () => {
      const bytes = kernels.rnnRowKernelBytes(this.cell, this.units);
      const ptr = bytes ? heap.alloc(bytes) : 0;
      if (ptr) kernels.rnnPackRowKernel(this.cell, this.weightPtrs[1], this.units, ptr);
      return ptr;
    });
  }

  /** Frees the weights and the row path's copy of the recurrent kernel. */
  protected override releaseWeights(): void {
    this.#rowKernel.free();
    super.releaseWeights();
  }

  /** The bias weight's shape (GRU reset_after stores two rows). */
  protected biasShape(): number[] {
    return [gateCount(this.cell) * this.units];
  }

  /** How many state tensors the layer carries: LSTM h and c, the others h. */
  get stateCount(): number {
    return this.cell === RnnCell.LSTM ? 2 : 1;
  }

  /** With `return_state`: the output, then the final state(s). */
  override get outputCount(): number {
    return this.returnState ? 1 + this.stateCount : 1;
  }

  /**
   * The sequence, optionally followed by the initial state(s) (Keras `initial_state`, each
   * (batch, units)).
   */
  override computeOutputShapes(inputShapes: Shape[]): Shape {
    const states = inputShapes.slice(1);
    if (states.length !== 0 && states.length !== this.stateCount) {
      throw new InputShapeError(
        this.name,
        `the sequence and ${this.stateCount} initial state tensor(s)`,
        `${inputShapes.length} tensors`,
      );
    }
    for (const s of states) {
      if (s.length !== 1 || (s[0] !== null && s[0] !== this.units)) {
        throw new InputShapeError(
          this.name,
          `initial states of shape (batch, ${this.units})`,
          formatShape(s),
        );
      }
    }
    return this.computeOutputShape(inputShapes[0]);
  }

  override computeOutputShapeList(inputShapes: Shape[]): Shape[] {
    const out = this.computeOutputShapes(inputShapes);
    return [out, ...Array.from({ length: this.outputCount - 1 }, () => [this.units])];
  }

  computeOutputShape(inputShape: Shape): Shape {
    this.expectRank(inputShape, 2, "(batch, time, features) ");
    if (inputShape[1] === null) {
      throw new InputShapeError(this.name, "a known feature dimension", formatShape(inputShape));
    }
    return this.returnSequences ? [inputShape[0], this.units] : [this.units];
  }

  override weightNames(): string[] {
    return this.useBias ? ["kernel", "recurrent_kernel", "bias"] : ["kernel", "recurrent_kernel"];
  }

  /**
   * Keras 3 keeps an RNN's weights in its cell: `cell/vars`, named after the cell class
   * (`lstm_cell`); the layer's own `vars` group is empty.
   */
  override kerasVarGroups(): KerasVarGroup[] {
    return [
      { path: "vars", start: 0, count: 0 },
      {
        path: "cell/vars",
        start: 0,
        count: this.weightNames().length,
        objectName: `${kerasSnakeCase(this.className)}_cell`,
      },
    ];
  }

  /** Recurrent layers run the whole batch at once: their per-step products have it as rows. */
  override get prefersWholeBatch(): boolean {
    return true;
  }

  override weightSpecs(inputShape: Shape): WeightSpec[] {
    const g = gateCount(this.cell) * this.units;
    const specs: WeightSpec[] = [
      { name: "kernel", shape: [inputShape[1] as number, g] },
      { name: "recurrent_kernel", shape: [this.units, g] },
    ];
    if (this.useBias) specs.push({ name: "bias", shape: this.biasShape() });
    return specs;
  }

  /** One inference run: the output, and the final states when `withStates`. */
  runOutputs(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    withStates: boolean,
  ): DeviceTensor[] {
    return this.#run(xs, masks, ctx, withStates, false);
  }

  /**
   * One inference run on x (the input projection when `projected`) as a stage of a wavefront of
   * stacked layers (`recurrent_wavefront.ts`), built but not run: the output, and the single
   * `rnnSequence` job that waits on and updates `counters`. The caller runs the job with the other
   * stages', then calls `finish` and frees `works` (and on an error, `y` too).
   */
  wavefrontStage(
    x: DeviceTensor,
    mask: DeviceTensor | null,
    ctx: CallContext,
    counters: WavefrontCounters,
    projected = false,
  ): WavefrontStageRun {
    const [batch, time] = x.shape;
    const y = this.allocOutput(
      ctx,
      this.returnSequences ? [batch, time, this.units] : [batch, this.units],
    );
    try {
      const out: RecurrentOutput = {
        ptr: y.ptr,
        rowStride: this.units,
        reverse: false,
        zeroOutputForMask: this.zeroOutputForMask,
      };
      const run = this.sequenceJobs(x, mask, ctx, out, 1, NO_STATES, projected, counters);
      return { y, job: run.jobs[0], finish: run.finish, works: run.works };
    } catch (e) {
      ctx.heap.free(y.ptr);
      throw e;
    }
  }

  /**
   * One inference run on the input projection (`[batch, time, gates·units]`, input·kernel + bias;
   * see `embedding_projection.ts`) instead of the input: the output.
   */
  runProjected(
    projection: DeviceTensor,
    mask: DeviceTensor | null,
    ctx: CallContext,
  ): DeviceTensor {
    return this.#run([projection], [mask], ctx, false, true)[0];
  }

  #run(
    xs: readonly DeviceTensor[],
    masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
    withStates: boolean,
    projected: boolean,
  ): DeviceTensor[] {
    const x = xs[0];
    const mask = masks[0] ?? null;
    const [batch, time] = x.shape;
    const y = this.allocOutput(
      ctx,
      this.returnSequences ? [batch, time, this.units] : [batch, this.units],
    );
    const outs = [y];
    try {
      if (withStates) {
        for (let k = 0; k < this.stateCount; k++) {
          outs.push(this.allocOutput(ctx, [batch, this.units]));
        }
      }
      this.runInto(x, mask, ctx, {
        ptr: y.ptr,
        rowStride: this.units,
        reverse: false,
        zeroOutputForMask: this.zeroOutputForMask,
      }, {
        ...this.initialStates(xs),
        hT: outs[1]?.ptr ?? 0,
        cT: outs[2]?.ptr ?? 0,
      }, projected);
    } catch (e) {
      for (const t of outs) ctx.heap.free(t.ptr);
      throw e;
    }
    return outs;
  }

  /**
   * The initial-state pointers of a call's inputs `[sequence, h0, (c0)]`, validated against the
   * batch: zeros when the call passes none.
   */
  initialStates(xs: readonly DeviceTensor[]): RecurrentStates {
    const states = xs.slice(1);
    if (states.length === 0) return { ...NO_STATES };
    const batch = xs[0].shape[0];
    if (states.length !== this.stateCount) {
      throw new InputShapeError(
        this.name,
        `${this.stateCount} initial state tensor(s)`,
        `${states.length}`,
      );
    }
    for (const s of states) {
      if (
        s.dtype !== "float32" || s.shape.length !== 2 || s.shape[0] !== batch ||
        s.shape[1] !== this.units
      ) {
        throw new InputShapeError(
          this.name,
          `initial states of shape [${batch}, ${this.units}]`,
          `${s.dtype} [${s.shape.join(", ")}]`,
        );
      }
    }
    return { h0: states[0].ptr, c0: states[1]?.ptr ?? 0, hT: 0, cT: 0 };
  }

  /**
   * Runs the layer on x [batch, time, features] and writes its output as `out` says, starting
   * from and returning states as `states` says. `projected`: x is the input projection instead
   * ([batch, time, gates·units], input·kernel + bias; see `embedding_projection.ts`).
   */
  runInto(
    x: DeviceTensor,
    mask: DeviceTensor | null,
    ctx: CallContext,
    out: RecurrentOutput,
    states: Readonly<RecurrentStates> = NO_STATES,
    projected = false,
  ): void {
    // With kernel threads on, a large batch splits into one range of sequences per thread.
    const flops = this.sequenceFlops(x.shape, projected);
    const parts = parallelRanges(ctx.kernels, x.shape[0] ?? 0, flops).length;
    const { jobs, works, finish } = this.sequenceJobs(x, mask, ctx, out, parts, states, projected);
    try {
      runJobs(ctx.kernels, jobs);
      finish();
    } finally {
      for (const w of works) ctx.heap.free(w);
    }
  }

  /**
   * Multiply-add flops of the layer over an x of `shape` [batch, time, features] (input
   * projection and recurrent steps; the steps alone when x is `projected`).
   */
  sequenceFlops(shape: readonly number[], projected = false): number {
    const [batch, time, inDim] = shape;
    const width = (projected ? 0 : inDim) + this.units;
    return 2 * batch * time * width * gateCount(this.cell) * this.units;
  }

  /**
   * Validates the input and builds one `rnnSequence` call per range of the batch (`parts` ranges
   * of about equal work, fewer for a small batch), each with its own workspace; the caller runs
   * the jobs (together with others when it likes), then calls `finish`, and frees `works`
   * afterwards.
   *
   * Padding is skipped twice. Across the batch: the kernel projects only the rows still running
   * at a step (a prefix of the rows, up to the last one kept there), so a masked batch runs its
   * rows so that those still running come first ({@link rowOrder}), gathering x, the mask and the
   * initial states into that order and `finish` scattering the outputs and final states back. In
   * time: timesteps masked for every sequence of a range change no state, so the range runs only
   * over the window of timesteps some sequence uses ({@link unmaskedWindow}), and `finish` writes
   * the outputs of the steps outside it as the kernel would have: zeros under
   * `zeroOutputForMask`, else the state carried into or out of the window (Keras repeats the
   * previous output at a masked step).
   *
   * `projected`: x is the input projection ([batch, time, gates·units], input·kernel + bias),
   * which the kernel then reads instead of projecting x itself. `wavefront`: the run's progress
   * counters in a wavefront (one part only, and its window the same as the other stages').
   */
  sequenceJobs(
    x: DeviceTensor,
    mask: DeviceTensor | null,
    ctx: CallContext,
    out: RecurrentOutput,
    parts: number,
    states: Readonly<RecurrentStates> = NO_STATES,
    projected = false,
    wavefront: Readonly<WavefrontCounters> = NO_WAVEFRONT,
  ): { jobs: KernelJob[]; works: number[]; finish: () => void } {
    if (x.dtype !== "float32" || x.shape.length !== 3) {
      throw new InputShapeError(
        this.name,
        "float32 (batch, time, features)",
        `${x.dtype} [${x.shape.join(", ")}]`,
      );
    }
    const [batch, time, inDim] = x.shape;
    if (time < 1) throw new InputShapeError(this.name, "at least 1 timestep", "0 timesteps");
    if (mask && (mask.shape.length !== 2 || mask.shape[0] !== batch || mask.shape[1] !== time)) {
      throw new InputShapeError(
        this.name,
        `a mask of shape [${batch}, ${time}]`,
        `[${mask.shape.join(", ")}]`,
      );
    }
    const { kernels, heap } = ctx;
    const flags = (this.goBackwards ? RnnFlag.GoBackwards : 0) |
      (this.returnSequences ? RnnFlag.ReturnSequences : 0) |
      (out.zeroOutputForMask ? RnnFlag.ZeroOutputForMask : 0) |
      (out.reverse ? RnnFlag.ReverseOutput : 0) |
      (projected ? RnnFlag.Projected : 0);
    const g = gateCount(this.cell) * this.units;
    if (projected && inDim !== g) {
      throw new InputShapeError(this.name, `a projected input of ${g} features`, `${inDim}`);
    }
    const bias = this.useBias ? this.weightPtrs[2] : 0;
    const recBias = this.cell === RnnCell.GRUResetAfter && bias ? bias + g * 4 : 0;
    const jobs: KernelJob[] = [];
    const works: number[] = [];
    const finishes: (() => void)[] = [];
    const u = this.units;
    const rowKernel = this.rowKernel(ctx);
    const spans = mask ? keptSpans(heap.i32(mask.ptr, batch * time), batch, time) : null;
    const order = spans && rowOrdering.enabled ? rowOrder(spans) : null;
    try {
      for (const [b0, nb] of workRanges(order, spans, batch, parts)) {
        const alloc = (bytes: number) => {
          const ptr = heap.alloc(bytes);
          works.push(ptr);
          return ptr;
        };
        // The range's rows of x in run order; null: rows b0… of x as they are.
        const rows = order ? order.subarray(b0, b0 + nb) : null;
        const win = paddingWindow(
          heap,
          x.ptr + (rows ? 0 : b0 * time * inDim * 4),
          mask ? mask.ptr + (rows ? 0 : b0 * time * 4) : 0,
          [nb, time, inDim],
          this.returnSequences,
          out.zeroOutputForMask,
          alloc,
          rows,
          true,
        );
        const steps = win ? win.t1 - win.t0 : time;
        // A projected input needs no projection segment (time 0).
        const work = alloc(kernels.rnnWorkspaceBytes(this.cell, nb, projected ? 0 : steps, u));
        // A state of the range: a slice of the batch's, or with a row order a copy in that order
        // (gathered now for initial states, scattered back by `finish` for final ones).
        const stateIn = (p: number) => {
          if (!p || !rows) return p ? p + b0 * u * 4 : 0;
          const copy = alloc(nb * u * 4);
          gatherRows(heap.f32(p, batch * u), heap.f32(copy, nb * u), rows, u);
          return copy;
        };
        const stateOut = (p: number) => {
          if (!p || !rows) return p ? p + b0 * u * 4 : 0;
          const copy = alloc(nb * u * 4);
          finishes.push(() => scatterRows(heap.f32(copy, nb * u), heap.f32(p, batch * u), rows, u));
          return copy;
        };
        const h0 = stateIn(states.h0), c0 = stateIn(states.c0);
        let hT = stateOut(states.hT);
        const cT = stateOut(states.cT);
        const xPtr = win ? win.x : x.ptr + b0 * time * inDim * 4;
        const maskPtr = win ? win.mask : mask ? mask.ptr + b0 * time * 4 : 0;
        let outPtr = out.ptr + b0 * (this.returnSequences ? time : 1) * out.rowStride * 4;
        let outStride = out.rowStride;
        if (win && this.returnSequences) {
          const whole = out.ptr + (rows ? 0 : b0 * time * out.rowStride * 4);
          // A single sequence's window rows are consecutive rows of the output: the kernel
          // writes them in place, only the steps outside are left to fill.
          const inPlace = nb === 1 && !rows;
          if (inPlace) {
            const { shift } = windowSteps(win, this.goBackwards, out.reverse);
            outPtr = whole + shift * out.rowStride * 4;
          } else {
            outPtr = alloc(nb * steps * u * 4);
            outStride = u;
          }
          if (!hT && !out.zeroOutputForMask) hT = alloc(nb * u * 4);
          const scatter: WindowScatter = {
            batch: nb,
            time,
            t0: win.t0,
            t1: win.t1,
            window: outPtr,
            out: whole,
            rowStride: out.rowStride,
            reverse: out.reverse,
            zeroOutputForMask: out.zeroOutputForMask,
            h0,
            hT,
            rows,
            inPlace,
          };
          finishes.push(() => scatterWindow(heap, this.goBackwards, u, scatter));
        } else if (rows) {
          // The last step's output, one row per sequence in run order.
          const last = alloc(nb * u * 4);
          const stride = out.rowStride;
          finishes.push(() =>
            scatterRows(
              heap.f32(last, nb * u),
              heap.f32(out.ptr, (batch - 1) * stride + u),
              rows,
              u,
              stride,
            )
          );
          outPtr = last;
          outStride = u;
        }
        jobs.push({
          fn: "rnnSequence",
          args: [
            this.cell,
            xPtr,
            nb,
            steps,
            inDim,
            u,
            projected ? 0 : this.weightPtrs[0],
            this.weightPtrs[1],
            projected ? 0 : bias,
            recBias,
            maskPtr,
            this.activation.code,
            this.activation.alpha,
            this.recurrentActivation.code,
            this.recurrentActivation.alpha,
            flags,
            outPtr,
            outStride,
            h0,
            c0,
            hT,
            cT,
            work,
            rowKernel,
            wavefront.inputReady,
            wavefront.outputReady,
          ],
          failAt: wavefront.outputReady,
        });
      }
    } catch (e) {
      for (const w of works) heap.free(w);
      throw e;
    }
    return { jobs, works, finish: () => finishes.forEach((f) => f()) };
  }

  /** The mask goes on with the sequence; a last-step output ends it. */
  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return this.returnSequences ? mask : null;
  }
}

/** Keras `naming.to_snake_case` (`SimpleRNN` → `simple_rnn`): the cell object's name. */
function kerasSnakeCase(name: string): string {
  const s = name.replace(/[^A-Za-z0-9_]+/g, "").replace(/(.)([A-Z][a-z]+)/g, "$1_$2");
  return s.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

/** A window `[t0, t1)` of the timesteps of `batch` sequences of `time` steps. */
export interface TimeWindow {
  batch: number;
  time: number;
  t0: number;
  t1: number;
}

/**
 * Whether a recurrent run over `mask` may run over `window` instead of the whole sequence: it is
 * shorter and not empty (an all-padding run follows the kernel's own rule), and the output is not
 * a last step's under `zeroOutputForMask` (the whole sequence's last step may be padding).
 */
export function windowPays(
  window: readonly [number, number],
  time: number,
  returnSequences: boolean,
  zeroOutputForMask: boolean,
): boolean {
  const [t0, t1] = window;
  return t1 - t0 < time && t1 > t0 && (returnSequences || !zeroOutputForMask);
}

/**
 * Whether masked runs order their rows by length ({@link rowOrder}); tests turn it off to check
 * the ordered run against the run in the batch's own order.
 */
export const rowOrdering = { enabled: true };

/**
 * Each mask row's kept steps (`[batch, time]`, nonzero = keep): `firsts[b]` the first kept step,
 * `ends[b]` one past the last; both 0 for a row that is all padding.
 */
export function keptSpans(
  mask: Int32Array,
  batch: number,
  time: number,
): { firsts: Int32Array; ends: Int32Array } {
  const firsts = new Int32Array(batch), ends = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    const row = b * time;
    let end = time;
    while (end > 0 && mask[row + end - 1] === 0) end--;
    let first = 0;
    while (first < end && mask[row + first] === 0) first++;
    firsts[b] = end ? first : 0;
    ends[b] = end;
  }
  return { firsts, ends };
}

/**
 * The order a masked batch runs its rows in, as the batch's row at each run position; null when
 * the batch's own order does as well (already sorted, all lengths equal, one row).
 *
 * The kernel projects a step's states only for the rows up to the last one kept at that step, so
 * the rows kept at a step should come first. Post-padded rows (Keras `TextVectorization`, and
 * `pad_sequences(padding="post")`) are all kept from step 0 and stop at different steps: by their
 * end, latest first, the rows kept at t are those ending after t, a prefix. Pre-padded rows
 * (`pad_sequences`' default) all end at the last step and start at different ones: by their first
 * kept step, earliest first, the rows kept at t are those started by t. Either way the layer may
 * walk time in both directions. Of the two orders (ties in batch order) the one with fewer
 * projected rows over all steps is taken; with holes in a row (Masking) both stay exact, they just
 * skip less.
 */
export function rowOrder(spans: { firsts: Int32Array; ends: Int32Array }): Int32Array | null {
  const { firsts, ends } = spans;
  const batch = ends.length;
  if (batch < 2) return null;
  const rows = Int32Array.from(ends.keys());
  const byEnd = rows.slice().sort((a, b) => ends[b] - ends[a] || a - b);
  const byFirst = rows.slice().sort((a, b) => firsts[a] - firsts[b] || ends[b] - ends[a] || a - b);
  const own = projectedRows(rows, spans), end = projectedRows(byEnd, spans);
  const first = projectedRows(byFirst, spans);
  const best = Math.min(own, end, first);
  if (own === best) return null;
  return end === best ? byEnd : byFirst;
}

/** Rows the kernel projects over all steps when the rows run in `order` (holes counted as kept). */
function projectedRows(order: Int32Array, spans: { firsts: Int32Array; ends: Int32Array }): number {
  let time = 0;
  for (const e of spans.ends) time = Math.max(time, e);
  // active[t]: 1 + the last run position kept at t.
  const active = new Int32Array(time);
  order.forEach((row, p) => {
    for (let t = spans.firsts[row]; t < spans.ends[row]; t++) active[t] = p + 1;
  });
  return active.reduce((a, b) => a + b, 0);
}

/**
 * Splits a batch of run positions (each the row `order[p]`, or p without an order) into at most
 * `parts` consecutive ranges `[start, count)` of about equal work: each row weighs its kept span
 * plus one (`spans`; every row alike without a mask). In run order the long rows come first, so
 * equal row counts would give the first thread most of the work.
 */
export function workRanges(
  order: Int32Array | null,
  spans: { firsts: Int32Array; ends: Int32Array } | null,
  batch: number,
  parts: number,
): [number, number][] {
  const n = Math.max(1, Math.min(parts, batch));
  const weight = (p: number) => {
    if (!spans) return 1;
    const b = order ? order[p] : p;
    return spans.ends[b] - spans.firsts[b] + 1;
  };
  let total = 0;
  for (let p = 0; p < batch; p++) total += weight(p);
  const ranges: [number, number][] = [];
  let start = 0, done = 0;
  for (let k = 1; k < n; k++) {
    // At least one row per range, one left for each later range; a row joins the range when
    // its middle falls before the range's share of the total.
    let end = start + 1, sum = done + weight(start);
    while (end < batch - (n - k) && sum + weight(end) / 2 <= total * k / n) sum += weight(end++);
    ranges.push([start, end - start]);
    start = end;
    done = sum;
  }
  ranges.push([start, batch - start]);
  return ranges;
}

/** Copies rows `rows[p]` of src (`dim` floats each) to rows p of dst. */
export function gatherRows(
  src: Float32Array,
  dst: Float32Array,
  rows: ArrayLike<number>,
  dim: number,
): void {
  for (let p = 0; p < rows.length; p++) {
    dst.set(src.subarray(rows[p] * dim, rows[p] * dim + dim), p * dim);
  }
}

/** Copies rows p of src (`dim` floats each) to rows `rows[p]` of dst, `dstStride` floats apart. */
export function scatterRows(
  src: Float32Array,
  dst: Float32Array,
  rows: ArrayLike<number>,
  dim: number,
  dstStride = dim,
): void {
  for (let p = 0; p < rows.length; p++) {
    dst.set(src.subarray(p * dim, p * dim + dim), rows[p] * dstStride);
  }
}

/** How many rows a tensor must have to hold `rows` (batch without a row list). */
function rowsSpanned(rows: ArrayLike<number> | null | undefined, batch: number): number {
  if (!rows) return batch;
  let most = -1;
  for (let p = 0; p < rows.length; p++) most = Math.max(most, rows[p]);
  return most + 1;
}

/**
 * The padding window of a run over `batch` sequences of x ([batch, time, inDim] at `xPtr`) and
 * their mask (`maskPtr`, 0: none): null when the run goes over the whole sequence
 * ({@link windowPays}), else the window and copies of x's and the mask's rows in it, in buffers
 * from `alloc` (the caller frees them). With `rows`, the run's sequence p is row `rows[p]` of x
 * and the mask, and the copies are always made (over the whole sequence when no window pays).
 * `inPlace`: a single sequence's window, contiguous in x and the mask, is given as slices of them
 * instead of copies (nothing to free then; inference at batch 1 skips a copy of the input).
 */
export function paddingWindow(
  heap: WasmHeap,
  xPtr: number,
  maskPtr: number,
  [batch, time, inDim]: readonly number[],
  returnSequences: boolean,
  zeroOutputForMask: boolean,
  alloc: (bytes: number) => number,
  rows: ArrayLike<number> | null = null,
  inPlace = false,
): (TimeWindow & { x: number; mask: number }) | null {
  if (!maskPtr) return null;
  const source = rowsSpanned(rows, batch);
  const mask = heap.i32(maskPtr, source * time);
  let [t0, t1] = unmaskedWindow(mask, batch, time, rows);
  if (!windowPays([t0, t1], time, returnSequences, zeroOutputForMask)) {
    if (!rows) return null;
    [t0, t1] = [0, time];
  }
  const w = { batch, time, t0, t1 }, n = batch * (t1 - t0);
  if (inPlace && batch === 1 && !rows) {
    return { ...w, x: xPtr + t0 * inDim * 4, mask: maskPtr + t0 * 4 };
  }
  const x = alloc(n * inDim * 4), m = alloc(n * 4);
  gatherWindow(heap.f32(xPtr, source * time * inDim), heap.f32(x, n * inDim), w, inDim, rows);
  gatherWindow(heap.i32(maskPtr, source * time), heap.i32(m, n), w, 1, rows);
  return { ...w, x, mask: m };
}

/**
 * Copies rows `[t0, t1)` of every sequence of `src` ([batch, time, dim]; with `rows`, sequence p
 * is `src`'s sequence `rows[p]`) into `dst`.
 */
export function gatherWindow<T extends Float32Array | Int32Array>(
  src: T,
  dst: T,
  w: TimeWindow,
  dim: number,
  rows: ArrayLike<number> | null = null,
): void {
  const steps = w.t1 - w.t0;
  for (let b = 0; b < w.batch; b++) {
    const from = (rows ? rows[b] : b) * w.time;
    dst.set(src.subarray((from + w.t0) * dim, (from + w.t1) * dim), b * steps * dim);
  }
}

/**
 * Processing steps `[s0, s1)` of the window (go_backwards walks time from the end), and `shift`:
 * the window run's output row p is the whole run's row `shift + p` (after `reverse`).
 */
export function windowSteps(
  w: TimeWindow,
  goBackwards: boolean,
  reverse: boolean,
): { s0: number; s1: number; shift: number } {
  const s0 = goBackwards ? w.time - w.t1 : w.t0, s1 = s0 + w.t1 - w.t0;
  return { s0, s1, shift: reverse ? w.time - s1 : s0 };
}

/**
 * Writes a window run's sequence output (`[batch, t1 − t0, units]`, in processing order as the
 * kernel wrote it; nothing when `inPlace`) into the whole output, and the steps outside the
 * window as the kernel would have: zeros under `zeroOutputForMask`, else the state before the window (h0, zeros without one)
 * for the steps processed before it and the final state for those after it.
 */
export function scatterWindow(
  heap: WasmHeap,
  goBackwards: boolean,
  units: number,
  w: WindowScatter,
): void {
  const u = units, { batch, time, rowStride } = w;
  const steps = w.t1 - w.t0;
  const { s0, s1, shift } = windowSteps(w, goBackwards, w.reverse);
  const src = w.inPlace ? null : heap.f32(w.window, batch * steps * u);
  const dst = heap.f32(w.out, (rowsSpanned(w.rows, batch) * time - 1) * rowStride + u);
  const h0 = w.h0 ? heap.f32(w.h0, batch * u) : null;
  const hT = w.hT ? heap.f32(w.hT, batch * u) : null;
  for (let b = 0; b < batch; b++) {
    const to = (w.rows ? w.rows[b] : b) * time;
    for (let p = 0; src && p < steps; p++) {
      const from = (b * steps + p) * u;
      dst.set(src.subarray(from, from + u), (to + shift + p) * rowStride);
    }
    for (let s = 0; s < time; s++) {
      if (s >= s0 && s < s1) continue;
      const row = (to + (w.reverse ? time - 1 - s : s)) * rowStride;
      const carried = w.zeroOutputForMask ? null : s < s0 ? h0 : hT;
      if (carried) dst.set(carried.subarray(b * u, b * u + u), row);
      else dst.fill(0, row, row + u);
    }
  }
}

/** Where a window run's sequence output goes back ({@link scatterWindow}). */
export interface WindowScatter extends TimeWindow {
  /** The window run's output, [batch, t1 − t0, units]. */
  window: number;
  /** The first row of the whole output, `rowStride` floats apart. */
  out: number;
  rowStride: number;
  reverse: boolean;
  zeroOutputForMask: boolean;
  /** Initial and final states of the range, in run order (0: zeros / not needed). */
  h0: number;
  hT: number;
  /** The run's sequence p goes to the output's sequence `rows[p]` (absent: p). */
  rows?: ArrayLike<number> | null;
  /** The window's rows are already in place in the output (`window` points there). */
  inPlace?: boolean;
}

/**
 * The timesteps `[t0, t1)` outside which every one of `batch` mask rows (`[batch, time]`,
 * nonzero = keep; with `rows`, the rows `rows[p]`) is padding; `[0, 0)` when all of it is.
 */
export function unmaskedWindow(
  mask: Int32Array,
  batch: number,
  time: number,
  rows: ArrayLike<number> | null = null,
): [number, number] {
  let t0 = time, t1 = 0;
  for (let b = 0; b < batch; b++) {
    const row = (rows ? rows[b] : b) * time;
    let first = 0;
    while (first < time && mask[row + first] === 0) first++;
    if (first === time) continue;
    let last = time - 1;
    while (mask[row + last] === 0) last--;
    if (first < t0) t0 = first;
    if (last + 1 > t1) t1 = last + 1;
  }
  return t0 < t1 ? [t0, t1] : [0, 0];
}
