/**
 * Graph memory: a deep residual CNN ({@link residualCnnModel}, 16 blocks by default) predicted at
 * batch 64; the engine's executor frees each activation after its last reader, so its peak live
 * activation bytes should stay near the largest live set, far under the sum of every activation
 * (what keeping them all would take). Read from `model.lastPredictMemory`, which describes the last
 * predict chunk (a feed-forward model's predict runs a batch in cache-sized chunks); a batch-1
 * predict gives the per-sample numbers, and their ratio the chunk's sample count.
 */
import { buildModel, setKernelThreads } from "../packages/engine/mod.ts";
import { residualCnnCase } from "./cases.ts";

/** Activation memory of one graph predict. */
export interface GraphMemoryResult {
  model: string;
  /** Residual blocks of the graph. */
  blocks: number;
  /** Layers of the graph (input included). */
  layers: number;
  /** Batch of the predict call (`batchSize` too). */
  batch: number;
  /** Samples in the predict chunk measured (the last one; the executor's cache-sized split). */
  chunkSamples: number;
  /** Most bytes of activations alive at once in that chunk. */
  peakBytes: number;
  /** Sum of the bytes of every activation of that chunk (input included). */
  totalBytes: number;
  /** The same at batch 1. */
  perSamplePeakBytes: number;
  perSampleTotalBytes: number;
  /** totalBytes / peakBytes. */
  ratio: number;
}

/** Measures {@link GraphMemoryResult} for a `blocks`-block residual CNN at `batch`. */
export function measureGraphMemory(blocks = 16, batch = 64): GraphMemoryResult {
  const c = residualCnnCase(blocks);
  const model = buildModel(c.spec);
  setKernelThreads(1);
  try {
    model.predict(c.input(1), { batchSize: 1 });
    const one = { ...model.lastPredictMemory };
    model.predict(c.input(batch), { batchSize: batch });
    const { peakBytes, totalBytes } = model.lastPredictMemory;
    const layers = (c.spec.config.config as { layers: unknown[] }).layers.length;
    return {
      model: c.label,
      blocks,
      layers,
      batch,
      chunkSamples: Math.round(totalBytes / one.totalBytes),
      peakBytes,
      totalBytes,
      perSamplePeakBytes: one.peakBytes,
      perSampleTotalBytes: one.totalBytes,
      ratio: totalBytes / peakBytes,
    };
  } finally {
    model.dispose();
  }
}
