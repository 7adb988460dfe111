import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { RnnCell } from "../kernels/rnn_codes.ts";
import { RecurrentLayer } from "./recurrent.ts";
import { RECURRENT_TRAINING } from "./recurrent_training.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { recurrentOnnx } from "./recurrent_onnx.ts";

/**
 * Keras `SimpleRNN`: `h = act(x·kernel + bias + h_prev·recurrent_kernel)`; weights `kernel (in, u)`,
 * `recurrent_kernel (u, u)`, `bias (u)`.
 */
export class SimpleRNN extends RecurrentLayer {
  readonly cell = RnnCell.SimpleRNN;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("SimpleRNN", config, options);
  }
}

/** The `SimpleRNN` layer class (see `layer_class.ts`). */
export const SIMPLE_RNN: LayerClass<SimpleRNN> = defineLayer<SimpleRNN>({
  className: "SimpleRNN",
  create: (config, options) => new SimpleRNN(config, options),
  training: RECURRENT_TRAINING,
  onnx: recurrentOnnx,
});
