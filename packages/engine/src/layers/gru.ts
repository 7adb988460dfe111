import type { LayerBuildOptions, LayerConfig } from "../layer.ts";
import { RnnCell } from "../kernels/rnn_codes.ts";
import { RecurrentLayer } from "./recurrent.ts";
import { RECURRENT_TRAINING } from "./recurrent_training.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";
import { recurrentOnnx } from "./recurrent_onnx.ts";

/**
 * Keras `GRU`, gate order z, r, h, `h = z*h_prev + (1-z)*hh`. `reset_after=True` (the default):
 * `bias (2, 3u)` = input row, recurrent row, `hh = act(x·Wh + bh_in + r*(h·Uh + bh_rec))`;
 * `reset_after=False`: `bias (3u)`, `hh = act(x·Wh + bh + (r*h)·Uh)`.
 */
export class GRU extends RecurrentLayer {
  readonly cell: RnnCell;
  readonly resetAfter: boolean;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("GRU", config, options);
    this.resetAfter = this.bool("reset_after", true);
    this.cell = this.resetAfter ? RnnCell.GRUResetAfter : RnnCell.GRU;
  }

  protected override biasShape(): number[] {
    return this.resetAfter ? [2, 3 * this.units] : [3 * this.units];
  }
}

/** The `GRU` layer class (see `layer_class.ts`). */
export const GRU_LAYER: LayerClass<GRU> = defineLayer<GRU>({
  className: "GRU",
  create: (config, options) => new GRU(config, options),
  training: RECURRENT_TRAINING,
  onnx: recurrentOnnx,
});
