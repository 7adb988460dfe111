/**
 * Inference-time fusion of an Embedding into the recurrent layer that reads it (SimpleRNN, LSTM,
 * GRU, or a Bidirectional of them): the recurrent layer projects every timestep's input,
 * `embedding[id]·kernel + bias`, which depends on the id alone. A projection table holds that
 * row for every id (`input_dim × gates·units` floats per direction), so the fused step looks the
 * projections up instead of gathering the embeddings and projecting them: the input projection,
 * a fifth to a half of a one-layer text model's predict, becomes a row copy.
 *
 * Results are bit for bit the unfused ones: the table is made by the same `gemm` kernel that
 * projects the timesteps, and a GEMM row's result does not depend on the other rows of the call.
 * Like the folded layers of `fusion.ts`, the tables follow the weights lazily: every
 * {@link Layer.weightsVersion} change of the Embedding or the recurrent layer is noticed by
 * {@link EmbeddingProjection.sync} before the next run, which remakes them.
 */
import { ActivationCode } from "./activations.ts";
import type { GraphNode } from "./graph.ts";
import { type CallContext, Layer } from "./layer.ts";
import { Bidirectional } from "./layers/bidirectional.ts";
import { Embedding } from "./layers/embedding.ts";
import {
  RecurrentLayer,
  type WavefrontCounters,
  type WavefrontStageRun,
} from "./layers/recurrent.ts";
import { gateCount } from "./kernels/rnn_codes.ts";
import type { DeviceTensor, Shape } from "./tensor.ts";
import type { WasmHeap } from "./wasm/heap.ts";
import { getRuntime } from "./wasm/kernels.ts";

/**
 * The most bytes the projection tables of one fused pair may take (all directions). A table is
 * `gates·units / output_dim` times the embeddings' size (3× for a GRU of 64 units on 64-wide
 * embeddings); past this bound (e.g. a 40,000-word vocabulary into a 128-unit LSTM's 512 gate
 * columns: 82 MB) the memory, and the one-off table product at the first predict, outweigh the
 * projections saved.
 */
export const PROJECTION_TABLE_MAX_BYTES = 32 * 1024 * 1024;

/** The recurrent layers of `layer`, one per direction; null when it is not a fusable one. */
function directions(layer: Layer): RecurrentLayer[] | null {
  if (layer instanceof RecurrentLayer) return [layer];
  if (layer instanceof Bidirectional && layer.mergeMode !== null) {
    return [layer.forward, layer.backward];
  }
  return null;
}

/**
 * Whether the Embedding node `embedding` and its sole reader `reader` can run as one step: a
 * recurrent layer (or Bidirectional) with no initial states and a single output, whose tables
 * fit {@link PROJECTION_TABLE_MAX_BYTES}.
 */
export function projectsEmbedding(embedding: GraphNode, reader: GraphNode): boolean {
  const e = embedding.layer;
  if (!(e instanceof Embedding) || embedding.inputs.length !== 1) return false;
  const dirs = directions(reader.layer);
  if (!dirs || reader.inputs.length !== 1 || reader.extraOutputs.length !== 0) return false;
  let bytes = 0;
  for (const d of dirs) bytes += e.inputDim * gateCount(d.cell) * d.units * 4;
  return bytes <= PROJECTION_TABLE_MAX_BYTES;
}

/**
 * The fused step of an Embedding and the recurrent layer reading it: a layer taking the ids
 * and returning the recurrent layer's output (and, with `return_sequences`, the Embedding's
 * mask), with the projection tables it looks the timesteps up in.
 */
export class EmbeddingProjection extends Layer {
  readonly embedding: Embedding;
  readonly recurrent: RecurrentLayer | Bidirectional;
  /** Per direction (forward first): the projection table's device pointer. */
  #tables: number[] = [];
  #heap?: WasmHeap;
  /** `weightsVersion` of the Embedding, the recurrent layer and its directions when last made. */
  #versions: number[] = [];

  constructor(embedding: Embedding, recurrent: RecurrentLayer | Bidirectional) {
    super("EmbeddingProjection", { name: `${embedding.name}>${recurrent.name}` });
    this.embedding = embedding;
    this.recurrent = recurrent;
    this.inputShapes = embedding.inputShapes.map((s) => [...s]);
    this.inputShape = [...embedding.inputShape];
    this.outputShape = [...recurrent.outputShape];
  }

  /** The layer the fused step runs: this one. */
  get layer(): Layer {
    return this;
  }

  #directions(): RecurrentLayer[] {
    return directions(this.recurrent)!;
  }

  /** Remakes the tables when the Embedding's or the recurrent layer's weights changed. */
  sync(heap: WasmHeap): void {
    const dirs = this.#directions();
    const versions = [this.embedding, this.recurrent, ...dirs].map((l) => l.weightsVersion);
    if (this.#heap === heap && versions.every((v, i) => v === this.#versions[i])) return;
    this.#free();
    const { kernels } = getRuntime();
    const e = this.embedding;
    const table = e.deviceWeights()[0];
    for (const d of dirs) {
      const g = gateCount(d.cell) * d.units;
      const ptr = heap.alloc(e.inputDim * g * 4);
      this.#tables.push(ptr);
      const [kernel, , bias] = d.deviceWeights();
      // GRU reset_after's bias is (2, g): the table takes the input row, the kernel adds the
      // recurrent one at each step.
      kernels.gemm(
        table,
        kernel,
        bias ?? 0,
        ptr,
        e.inputDim,
        g,
        e.outputDim,
        ActivationCode.Linear,
        0,
      );
    }
    this.#heap = heap;
    this.#versions = versions;
  }

  #free(): void {
    for (const p of this.#tables) this.#heap?.free(p);
    this.#tables = [];
  }

  /** Frees the tables (the Embedding and recurrent layer keep their weights). */
  override dispose(): void {
    this.#free();
    this.#versions = [];
  }

  computeOutputShape(inputShape: Shape): Shape {
    return this.recurrent.computeOutputShape(this.embedding.computeOutputShape(inputShape));
  }

  /** Recurrent layers run the whole batch at once (see {@link RecurrentLayer}). */
  override get prefersWholeBatch(): boolean {
    return true;
  }

  /** The recurrent layer's output for the ids x. */
  call(x: DeviceTensor, _mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    const dirs = this.#directions();
    const mask = this.embedding.computeMask(x, null);
    const projections: DeviceTensor[] = [];
    try {
      dirs.forEach((d, k) => {
        const width = gateCount(d.cell) * d.units;
        projections.push(this.embedding.lookup(x, this.#tables[k], width, ctx));
      });
      if (this.recurrent instanceof Bidirectional) {
        return this.recurrent.runProjected([projections[0], projections[1]], mask, ctx);
      }
      return this.recurrent.runProjected(projections[0], mask, ctx);
    } finally {
      for (const p of projections) ctx.heap.free(p.ptr);
      if (mask) ctx.heap.free(mask.ptr);
    }
  }

  /**
   * The fused step as the first stage of a wavefront of stacked layers (`recurrent_wavefront.ts`;
   * a unidirectional recurrent layer only), built but not run: the projections looked up for the
   * ids x, and the recurrent run on them. `mask` is the Embedding's for x.
   */
  wavefrontStage(
    x: DeviceTensor,
    mask: DeviceTensor | null,
    ctx: CallContext,
    counters: WavefrontCounters,
  ): WavefrontStageRun {
    const d = this.recurrent;
    if (!(d instanceof RecurrentLayer)) {
      throw new Error(`${this.name}: a Bidirectional layer cannot be a wavefront stage`);
    }
    const projection = this.embedding.lookup(x, this.#tables[0], gateCount(d.cell) * d.units, ctx);
    try {
      const run = d.wavefrontStage(projection, mask, ctx, counters, true);
      return { ...run, works: [...run.works, projection.ptr] };
    } catch (e) {
      ctx.heap.free(projection.ptr);
      throw e;
    }
  }

  /** The Embedding's mask when the recurrent layer passes it on (`return_sequences`). */
  override computeMask(x: DeviceTensor, _mask: DeviceTensor | null): DeviceTensor | null {
    return this.recurrent.returnSequences ? this.embedding.computeMask(x, null) : null;
  }
}
