import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { RnnCell } from "../kernels/rnn_codes.ts";
import { RecurrentLayer } from "./recurrent.ts";
import { RECURRENT_TRAINING } from "./recurrent_training.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { recurrentOnnx } from "./recurrent_onnx.ts";

/**
 * The initial `bias` of an LSTM-gated layer (LSTM, ConvLSTM2D) under Keras `unit_forget_bias`
 * (default true): `concat(init(u), ones(u), init(2u))` for a bias of 4·u, gate order i, f, c, o.
 * Undefined (the config's initializer alone) for any other weight or with the option off.
 */
export function unitForgetBias(
  config: LayerConfig,
  name: string,
  shape: readonly number[],
  init: (shape: number[]) => Float32Array,
): Float32Array | undefined {
  if (name !== "bias" || (config.unit_forget_bias ?? true) !== true) return undefined;
  if (shape.length !== 1 || shape[0] % 4 !== 0) return undefined;
  const u = shape[0] / 4;
  const data = new Float32Array(4 * u);
  data.set(init([u]), 0);
  data.fill(1, u, 2 * u);
  data.set(init([2 * u]), 2 * u);
  return data;
}

/**
 * Keras `LSTM`, gate order i, f, c, o: `c = f*c + i*act(..)`, `h = o*act(c)`; weights
 * `kernel (in, 4u)`, `recurrent_kernel (u, 4u)`, `bias (4u)`.
 */
export class LSTM extends RecurrentLayer {
  readonly cell = RnnCell.LSTM;

  /** Keras `unit_forget_bias` (see {@link unitForgetBias}). */
  override initialWeight(
    name: string,
    shape: readonly number[],
    init: (shape: number[]) => Float32Array,
  ): Float32Array | undefined {
    return unitForgetBias(this.config, name, shape, init);
  }

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("LSTM", config, options);
  }
}

/** The `LSTM` layer class (see `layer_class.ts`). */
export const LSTM_LAYER: LayerClass<LSTM> = defineLayer<LSTM>({
  className: "LSTM",
  create: (config, options) => new LSTM(config, options),
  training: RECURRENT_TRAINING,
  onnx: recurrentOnnx,
});
