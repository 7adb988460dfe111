/**
 * A recurrent layer of a given cell built with the float64 BPTT reference's weights, for the
 * kernel-level tests that run it against `rnnGradReference`.
 *
 * @module
 */
import type { LayerBuildOptions, LayerConfig } from "../src/layer.ts";
import { RnnCell } from "../src/kernels/rnn_codes.ts";
import type { RnnGradReferenceArgs } from "../src/kernels/rnn_grad_reference.ts";
import { GRU } from "../src/layers/gru.ts";
import { LSTM } from "../src/layers/lstm.ts";
import type { RecurrentLayer } from "../src/layers/recurrent.ts";
import { SimpleRNN } from "../src/layers/simple_rnn.ts";
import type { WasmHeap } from "../src/wasm/heap.ts";

/** The engine layer of `cell` from `config` (GRU's `reset_after` set by the cell). */
export function rnnLayerFor(
  cell: RnnCell,
  config: LayerConfig,
  options: LayerBuildOptions = {},
): RecurrentLayer {
  switch (cell) {
    case RnnCell.SimpleRNN:
      return new SimpleRNN(config, options);
    case RnnCell.LSTM:
      return new LSTM(config, options);
    default:
      return new GRU({ ...config, reset_after: cell === RnnCell.GRUResetAfter }, options);
  }
}

/**
 * Builds `layer` for `[a.time, a.inDim]` inputs with the reference's kernel, recurrent kernel and
 * (when it has one) bias, as float32.
 */
export function buildWithReferenceWeights(
  layer: RecurrentLayer,
  a: RnnGradReferenceArgs,
  heap: WasmHeap,
): void {
  const weights = [a.kernel, a.recurrentKernel, ...(a.bias ? [a.bias] : [])];
  const specs = layer.weightSpecs([a.time, a.inDim]);
  layer.build(
    [a.time, a.inDim],
    specs.map((s, i) => ({ name: s.name, shape: s.shape, data: Float32Array.from(weights[i]) })),
    heap,
  );
}
