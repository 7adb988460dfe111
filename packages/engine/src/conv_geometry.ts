/**
 * Keras output-size and padding rules for convolution and pooling windows (one spatial axis).
 *
 * `valid`: `out = floor((in - dilation*(k-1) - 1) / stride) + 1`, no padding.
 * `same`: `out = ceil(in / stride)`, `pad_total = max((out-1)*stride + (k-1)*dilation + 1 - in, 0)`,
 * `pad_before = floor(pad_total / 2)` (the odd extra cell goes after: bottom / right).
 */
import { LayerConfigError, UnsupportedLayerError } from "./errors.ts";

/** Keras padding modes the engine runs for 2-D windows. */
export type Padding = "valid" | "same";

/** Output length and leading padding of one spatial axis. */
export interface AxisGeometry {
  /** Output length (0 when the window does not fit a `valid` input). */
  out: number;
  /** Zero cells before the first input cell (top or left). */
  padBefore: number;
}

/** Output length and leading padding for input length `len`, window `k`, `stride`, `dilation`. */
export function axisGeometry(
  len: number,
  k: number,
  stride: number,
  dilation: number,
  padding: Padding,
): AxisGeometry {
  const span = dilation * (k - 1) + 1;
  if (padding === "valid") {
    return { out: Math.max(Math.floor((len - span) / stride) + 1, 0), padBefore: 0 };
  }
  const out = Math.ceil(len / stride);
  const padTotal = Math.max((out - 1) * stride + span - len, 0);
  return { out, padBefore: Math.floor(padTotal / 2) };
}

/**
 * The input cells a band of output cells of one axis reads: a window call on input cells
 * `[start, start + len)` with `padBefore` leading zeros and `outLen` outputs computes exactly the
 * band's outputs, so kernel threads can split one image into bands of output rows.
 */
export interface AxisBand {
  /** First input cell of the band's first window (0 when it starts in the padding). */
  start: number;
  /** Input cells from `start` to the end of the band's last window (or of the input). */
  len: number;
  /** Zero cells before `start` the band's first window covers. */
  padBefore: number;
}

/**
 * The band of input cells output cells `[out0, out0 + outLen)` read, on an axis of `len` input
 * cells with window `k`, `stride`, `dilation` and `padBefore` leading zeros (trailing zeros are
 * implied by the output length); null when the band's windows lie wholly in the padding.
 */
export function axisBand(
  out0: number,
  outLen: number,
  len: number,
  k: number,
  stride: number,
  dilation: number,
  padBefore: number,
): AxisBand | null {
  const first = out0 * stride - padBefore;
  const end = Math.min(len, (out0 + outLen - 1) * stride - padBefore + (k - 1) * dilation + 1);
  const start = Math.max(0, first);
  if (end <= start) return null;
  return { start, len: end - start, padBefore: start - first };
}

/** Output length for a possibly unknown (`null`) input length. */
export function axisOutput(
  len: number | null,
  k: number,
  stride: number,
  dilation: number,
  padding: Padding,
): number | null {
  return len === null ? null : axisGeometry(len, k, stride, dilation, padding).out;
}

/** Reads a `padding` config value (`"valid"` or `"same"`, any case, as Keras accepts). */
export function parsePadding(value: unknown, layerName: string): Padding {
  const v = typeof value === "string" ? value.toLowerCase() : value;
  if (v === undefined || v === null) return "valid";
  if (v !== "valid" && v !== "same") {
    throw new LayerConfigError(
      layerName,
      "padding",
      `expected "valid" or "same", got ${JSON.stringify(value)}`,
    );
  }
  return v;
}

/** Refuses `data_format: "channels_first"` (the engine runs NHWC only), naming the layer. */
export function requireChannelsLast(
  config: Record<string, unknown>,
  className: string,
  layerName: string,
): void {
  const format = config.data_format ?? "channels_last";
  if (format !== "channels_last") {
    throw new UnsupportedLayerError(
      className,
      layerName,
      `data_format ${JSON.stringify(format)}; only "channels_last" is supported`,
    );
  }
}

/**
 * Refuses strides > 1 together with dilation_rate > 1 on any axis, as Keras does (naming the
 * layer and `dilation_rate`).
 */
export function refuseStridedDilation(
  layerName: string,
  strides: readonly number[],
  dilationRate: readonly number[],
): void {
  if (Math.max(...strides) > 1 && Math.max(...dilationRate) > 1) {
    throw new LayerConfigError(
      layerName,
      "dilation_rate",
      `expected 1 with strides > 1 (Keras refuses strides > 1 with dilation_rate > 1), got ` +
        `strides ${JSON.stringify(strides)} and dilation_rate ${JSON.stringify(dilationRate)}`,
    );
  }
}
