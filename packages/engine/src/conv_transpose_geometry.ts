/**
 * Keras output-size and padding rules for transposed convolutions (one spatial axis), as Keras 3's
 * `compute_conv_transpose_output_shape` and its TensorFlow backend (`tf.nn.conv_transpose` with
 * that output shape) resolve them; Keras 2's `deconv_output_length` gives the same lengths.
 *
 * With the dilated span `k' = dilation·(k − 1) + 1`:
 * - `valid`: `out = (in − 1)·stride + k' + output_padding`, where a missing `output_padding` is
 *   `max(k', stride) − k'` (so `out = in·stride + max(k' − stride, 0)`); no cropping.
 * - `same`: `out = in·stride` without `output_padding`, else `(in − 1)·stride + k' % 2 +
 *   output_padding`.
 *
 * The transposed convolution scatters input cell `i`, tap `t` to output cell
 * `i·stride + t·dilation − padBefore`. `padBefore` is the top/left padding of the Conv2D whose
 * input gradient this is (input length `out`, output length `in`): `floor(max((in − 1)·stride +
 * k' − out, 0) / 2)` for `same`, 0 for `valid` — equal to the explicit padding Keras's JAX,
 * Torch and MLX backends derive (checked for every small case in `kernels/conv_transpose_test.ts`).
 * The TF backend hands the output shape to TensorFlow, which agrees wherever its shape check
 * passes and raises where it does not (for instance `same` with an even span and
 * `output_padding` 0). Output cells no tap reaches hold the bias alone.
 */
import type { Padding } from "./conv_geometry.ts";

/** Output length and leading crop of one axis of a transposed convolution. */
export interface TransposeAxisGeometry {
  /** Output length. */
  out: number;
  /** Cells cut from the top/left of the full scatter (input cell 0, tap 0 lands at −padBefore). */
  padBefore: number;
}

/**
 * Output length and leading crop for input length `len`, kernel `k`, `stride`, `dilation`,
 * `padding` and `outputPadding` (`null`: none, Keras's default).
 */
export function transposeAxisGeometry(
  len: number,
  k: number,
  stride: number,
  dilation: number,
  padding: Padding,
  outputPadding: number | null,
): TransposeAxisGeometry {
  const span = dilation * (k - 1) + 1;
  if (padding === "valid") {
    const extra = outputPadding ?? Math.max(span, stride) - span;
    return { out: (len - 1) * stride + span + extra, padBefore: 0 };
  }
  const out = outputPadding === null
    ? len * stride
    : (len - 1) * stride + (span % 2) + outputPadding;
  return { out, padBefore: Math.floor(Math.max((len - 1) * stride + span - out, 0) / 2) };
}

/** Output length for a possibly unknown (`null`) input length. */
export function transposeAxisOutput(
  len: number | null,
  k: number,
  stride: number,
  dilation: number,
  padding: Padding,
  outputPadding: number | null,
): number | null {
  return len === null
    ? null
    : transposeAxisGeometry(len, k, stride, dilation, padding, outputPadding).out;
}
