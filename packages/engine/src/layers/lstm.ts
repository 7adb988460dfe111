import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { RnnCell } from "../kernels/rnn_codes.ts";
import { RecurrentLayer } from "./recurrent.ts";
import { RECURRENT_TRAINING } from "./recurrent_training.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/**
 * Keras `LSTM`, gate order i, f, c, o: `c = f*c + i*act(..)`, `h = o*act(c)`; weights
 * `kernel (in, 4u)`, `recurrent_kernel (u, 4u)`, `bias (4u)`.
 */
export class LSTM extends RecurrentLayer {
  readonly cell = RnnCell.LSTM;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("LSTM", config, options);
  }
}

/** The `LSTM` layer class (see `layer_class.ts`). */
export const LSTM_LAYER: LayerClass<LSTM> = defineLayer<LSTM>({
  className: "LSTM",
  create: (config, options) => new LSTM(config, options),
  training: RECURRENT_TRAINING,
});
