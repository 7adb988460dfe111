import { type CallContext, Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import type { DeviceTensor, Shape } from "../tensor.ts";
import { defineLayer, type LayerClass } from "../layer_class.ts";

/** Keras `Dropout`: identity at inference; passes the mask on. (Training mode: the trainer.) */
export class Dropout extends Layer {
  readonly rate: number;

  constructor(config: LayerConfig, options: LayerBuildOptions = {}) {
    super("Dropout", config, options);
    this.rate = this.num("rate", 0.5);
  }

  computeOutputShape(inputShape: Shape): Shape {
    return [...inputShape];
  }

  call(x: DeviceTensor, _mask: DeviceTensor | null, _ctx: CallContext): DeviceTensor {
    return x;
  }

  override computeMask(_x: DeviceTensor, mask: DeviceTensor | null): DeviceTensor | null {
    return mask;
  }
}

/** The `Dropout` layer class (see `layer_class.ts`). */
export const DROPOUT: LayerClass<Dropout> = defineLayer({
  className: "Dropout",
  create: (config, options) => new Dropout(config, options),
});
