/**
 * Inference-time wavefront of stacked recurrent layers: a chain of unidirectional SimpleRNN / LSTM
 * / GRU layers, each reading the whole output sequence of the one below (`return_sequences`),
 * runs as one step that, on one sequence with kernel threads on, runs the layers at the same time
 * on different threads, each a few timesteps behind the one below.
 *
 * Why: a recurrence cannot split its steps, and at batch 1 there are no rows to split either, so
 * a stack of them left the second core idle (LSTM 3×64 at batch 1: 2 threads = 1 thread). But
 * step t of layer k needs only steps ≤ t of layer k − 1: with the layers on their own threads the
 * stack takes about as long as its slowest layer plus a few steps, not the sum of them. Each
 * layer's `rnnSequence` call stores its progress (steps written) into a counter the layer above
 * waits on, and projects its input in chunks as rows arrive (see `rnnSequence`); the outputs are
 * bit for bit those of the layers run one after the other (the same GEMM rows, the same steps).
 *
 * With more layers than threads, the calling thread runs the rest after its own, in order (the
 * thread pool's rule), so every layer only ever waits on one that already started or finished.
 * Without kernel threads, with a batch of several sequences (the layers then split the batch
 * rows, which keeps every thread busy all the way), or when the work is too small to pay for a
 * thread's wake-up, the step runs the layers one after the other, as the unfused plan would.
 */
import type { GraphNode } from "./graph.ts";
import { type CallContext, Layer } from "./layer.ts";
import { EmbeddingProjection } from "./embedding_projection.ts";
import {
  RecurrentLayer,
  unmaskedWindow,
  type WavefrontCounters,
  type WavefrontStageRun,
  windowPays,
} from "./layers/recurrent.ts";
import type { DeviceTensor, Shape } from "./tensor.ts";
import { parallelRanges, runJobs } from "./wasm/threads.ts";

let runsSoFar = 0;

/** Calls run as a wavefront in this process so far (for tests and benches). */
export function wavefrontRuns(): number {
  return runsSoFar;
}

/** A layer a wavefront runs: a recurrent layer, or an Embedding fused into its reader. */
export type WavefrontStage = RecurrentLayer | EmbeddingProjection;

/** The unidirectional recurrent layer a stage runs, or null when `layer` cannot be a stage. */
function recurrentOf(layer: Layer): RecurrentLayer | null {
  const r = layer instanceof EmbeddingProjection ? layer.recurrent : layer;
  return r instanceof RecurrentLayer && !r.goBackwards ? r : null;
}

/**
 * Whether node `lower` can feed node `upper` in a wavefront: both unidirectional recurrent layers
 * (the lower one maybe an {@link EmbeddingProjection}) with one input and one output each, the
 * lower one returning its whole sequence in time order, and `upper` its only reader (the caller
 * checks that).
 */
export function wavefrontLink(lower: GraphNode, upper: GraphNode): boolean {
  const below = recurrentOf(lower.layer);
  return below !== null && below.returnSequences && upper.layer instanceof RecurrentLayer &&
    recurrentOf(upper.layer) !== null && lower.inputs.length === 1 && upper.inputs.length === 1 &&
    lower.extraOutputs.length === 0 && upper.extraOutputs.length === 0;
}

/** The fused step of a chain of stacked recurrent layers (see the module comment). */
export class RecurrentWavefront extends Layer {
  /** The chain's layers, lowest first. */
  readonly stages: readonly WavefrontStage[];

  constructor(stages: readonly WavefrontStage[]) {
    super("RecurrentWavefront", { name: stages.map((s) => s.name).join(">") });
    if (stages.length < 2) throw new Error("a wavefront needs at least two layers");
    this.stages = stages;
    this.inputShapes = stages[0].inputShapes.map((s) => [...s]);
    this.inputShape = [...stages[0].inputShape];
    this.outputShape = [...stages[stages.length - 1].outputShape];
  }

  /** The layer the fused step runs: this one. */
  get layer(): Layer {
    return this;
  }

  /** Nothing to remake: the stages' own derived data is synced by their own fused steps. */
  sync(): void {}

  /** Frees nothing: the stages belong to the graph (or to their own fused steps). */
  override dispose(): void {}

  computeOutputShape(inputShape: Shape): Shape {
    return this.stages.reduce((shape, s) => s.computeOutputShape(shape), inputShape);
  }

  /** Recurrent layers run the whole batch at once (see {@link RecurrentLayer}). */
  override get prefersWholeBatch(): boolean {
    return true;
  }

  /** The top layer's mask: the sequence's when it returns sequences. */
  override computeMask(x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    const top = this.stages[this.stages.length - 1] as RecurrentLayer;
    return top.returnSequences ? this.stages[0].computeMask(x, mask) : null;
  }

  call(x: DeviceTensor, mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    // The mask every layer above the first sees (the first's own, or the Embedding's).
    const seqMask = this.stages[0].computeMask(x, mask);
    try {
      return this.#pays(x, seqMask, ctx)
        ? this.#runWavefront(x, mask, seqMask, ctx)
        : this.#runInTurn(x, mask, seqMask, ctx);
    } finally {
      if (seqMask && seqMask !== mask) ctx.heap.free(seqMask.ptr);
    }
  }

  /**
   * Whether the layers run as a wavefront: one sequence, kernel threads on with work enough for
   * them (weighted ×4 as the Bidirectional's directions are: a recurrence runs at about a quarter
   * of the GEMM rate the threshold assumes), and every layer running over the same padding window
   * (step s of each is then the same timestep).
   */
  #pays(x: DeviceTensor, seqMask: DeviceTensor | null, ctx: CallContext): boolean {
    const [batch, time] = x.shape;
    if (batch !== 1) return false;
    let flops = 0;
    for (const s of this.stages) {
      // An Embedding's stage reads its projections from a table: the steps alone.
      const projected = s instanceof EmbeddingProjection;
      flops += recurrentOf(s)!.sequenceFlops([1, time, s.inputShape[1] ?? 0], projected);
    }
    if (parallelRanges(ctx.kernels, 2, 4 * flops).length < 2) return false;
    if (!seqMask) return true;
    const window = unmaskedWindow(ctx.heap.i32(seqMask.ptr, time), 1, time);
    const pays = this.stages.map((s) => {
      const r = recurrentOf(s)!;
      return windowPays(window, time, r.returnSequences, r.zeroOutputForMask);
    });
    return pays.every((p) => p === pays[0]);
  }

  /** The layers one after the other, as the unfused plan runs them. */
  #runInTurn(
    x: DeviceTensor,
    mask: DeviceTensor | null,
    seqMask: DeviceTensor | null,
    ctx: CallContext,
  ): DeviceTensor {
    let y = this.stages[0].call(x, mask, ctx);
    for (const s of this.stages.slice(1)) {
      try {
        const next = s.call(y, seqMask, ctx);
        ctx.heap.free(y.ptr);
        y = next;
      } catch (e) {
        ctx.heap.free(y.ptr);
        throw e;
      }
    }
    return y;
  }

  /** The layers at once, each on its own thread (see the module comment). */
  #runWavefront(
    x: DeviceTensor,
    mask: DeviceTensor | null,
    seqMask: DeviceTensor | null,
    ctx: CallContext,
  ): DeviceTensor {
    const { heap } = ctx;
    const n = this.stages.length;
    // Stage k's progress counter, read by stage k + 1.
    const counters = heap.alloc(4 * n);
    heap.i32(counters, n).fill(0);
    const runs: WavefrontStageRun[] = [];
    let done = false;
    try {
      let input = x;
      this.stages.forEach((s, k) => {
        const c: WavefrontCounters = {
          inputReady: k > 0 ? counters + 4 * (k - 1) : 0,
          outputReady: k < n - 1 ? counters + 4 * k : 0,
        };
        const run = s instanceof EmbeddingProjection
          ? s.wavefrontStage(x, seqMask, ctx, c)
          : s.wavefrontStage(input, k === 0 ? mask : seqMask, ctx, c);
        runs.push(run);
        input = run.y;
      });
      runJobs(ctx.kernels, runs.map((r) => r.job));
      runsSoFar++;
      for (const r of runs) r.finish();
      done = true;
      return runs[n - 1].y;
    } finally {
      for (const r of runs) {
        for (const w of r.works) heap.free(w);
        if (!done || r !== runs[n - 1]) heap.free(r.y.ptr);
      }
      heap.free(counters);
    }
  }
}
