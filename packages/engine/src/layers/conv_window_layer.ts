/**
 * The config every 2-D convolution layer reads the same way (Conv2D, Conv2DTranspose,
 * DepthwiseConv2D / SeparableConv2D, ConvLSTM2D).
 *
 * @module
 */
import { type Padding, parsePadding, requireChannelsLast } from "../conv_geometry.ts";
import { LayerConfigError } from "../errors.ts";
import { Layer, type LayerBuildOptions, type LayerConfig } from "../layer.ts";
import type { ConvWindow } from "./conv2d_direct.ts";

/**
 * A layer with a 2-D convolution window: `kernel_size`, `strides` (default 1), `dilation_rate`
 * (default 1) and `padding` (valid/same); `channels_first` is refused by name.
 */
export abstract class ConvWindowLayer extends Layer implements ConvWindow {
  readonly kernelSize: number[];
  readonly strides: number[];
  readonly dilationRate: number[];
  readonly padding: Padding;

  constructor(className: string, config: LayerConfig, options: LayerBuildOptions) {
    super(className, config, options);
    requireChannelsLast(config, className, this.name);
    this.kernelSize = this.intTuple("kernel_size", 2);
    this.strides = this.intTuple("strides", 2, 1);
    this.dilationRate = this.intTuple("dilation_rate", 2, 1);
    this.padding = parsePadding(config.padding, this.name);
  }

  /** The integer config `field` (`fallback` when absent), refused below 1 (`filters` and the like). */
  protected positiveInt(field: string, fallback?: number): number {
    const v = this.num(field, fallback, true);
    if (v < 1) throw new LayerConfigError(this.name, field, `expected an integer ≥ 1, got ${v}`);
    return v;
  }
}
