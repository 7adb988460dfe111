// Conv2DTranspose (NHWC), kernel in Keras layout (kh, kw, filters, in): output channels BEFORE
// input channels. Read row-major, that kernel is exactly a Conv2D kernel (kh, kw, in', out') with
// in' = filters and out' = in, so the transposed convolution y = x ⊛ᵀ W is the input gradient of a
// Conv2D whose input is y's shape and whose output is x's shape:
//   y[b, iy·sh + ky·dh − padTop, ix·sw + kx·dw − padLeft, f] += x[b, iy, ix, c] · W[ky, kx, f, c].
// - forward: conv2dBackward's dx (col2im, or for stride 1 a flipped-kernel convolution), then the
//   bias + activation epilogue;
// - backward, from dZ (the gradient at the pre-activation): dx = Conv2D(dZ, W) with the same
//   strides, dilation and padding (conv.ts), dW = conv2dBackward's filter gradient with the roles
//   of x and dZ swapped (the Conv2D's input is dZ, its output gradient is x).
// Output cells no window reaches (output_padding, `valid` with stride > kernel span) get the bias.
import { activateScalar, activateV } from "./activations";
import { conv2d } from "./conv";
import { conv2dBackward, conv2dBackwardMinScratch } from "./conv_grad";

/**
 * Floats of scratch `conv2dTranspose` needs at least for a kernel (kh, kw, filters, c); more
 * scratch gives larger tiles.
 */
export function conv2dTransposeMinScratch(kh: i32, kw: i32, c: i32, filters: i32): i32 {
  return conv2dBackwardMinScratch(kh, kw, filters, c, 1);
}

/**
 * y[b, oh, ow, f] = act(bias[f] + Σ x[b, iy, ix, c] · w[ky, kx, f, c]) over the (iy, ix, ky, kx)
 * with oh = iy·sh + ky·dh − padTop and ow = ix·sw + kx·dw − padLeft.
 * x is [batch, h, wd, c], y [batch, outH, outW, filters] (OVERWRITTEN), w (kh, kw, filters, c),
 * bias (filters) or 0 (none). `scratch` holds `scratchFloats` ≥ `conv2dTransposeMinScratch`.
 */
export function conv2dTranspose(
  x: usize,
  w: usize,
  bias: usize,
  y: usize,
  scratch: usize,
  scratchFloats: i32,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  filters: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dw: i32,
  padTop: i32,
  padLeft: i32,
  act: i32,
  alpha: f32,
): void {
  conv2dBackward(
    0, x, w, y, 0, scratch, scratchFloats, batch, outH, outW, filters, h, wd, c, kh, kw, sh, sw, dh,
    dw, padTop, padLeft,
  );
  biasActivate(y, bias, batch * outH * outW, filters, act, alpha);
}

/** In place over `rows` rows of `cols` floats: v = act(v + bias[col]) (bias 0: none). */
export function biasActivate(y: usize, bias: usize, rows: i32, cols: i32, act: i32, alpha: f32): void {
  if (bias == 0 && act == 0) return;
  const rowBytes = <usize> cols << 2;
  for (let r = 0; r < rows; r++) {
    const row = y + <usize> r * rowBytes;
    let j = 0;
    for (; j + 4 <= cols; j += 4) {
      const p = row + (<usize> j << 2);
      let v = v128.load(p);
      if (bias) v = f32x4.add(v, v128.load(bias + (<usize> j << 2)));
      v128.store(p, activateV(v, act, alpha));
    }
    for (; j < cols; j++) {
      const p = row + (<usize> j << 2);
      let v = load<f32>(p);
      if (bias) v += load<f32>(bias + (<usize> j << 2));
      store<f32>(p, activateScalar(v, act, alpha));
    }
  }
}

/**
 * Floats of scratch `conv2dTransposeBackward` needs at least: 2·kh·kw·filters (the filter
 * gradient's im2col rows of dZ and their transpose; also enough for dx's im2col convolution).
 */
export function conv2dTransposeBackwardMinScratch(kh: i32, kw: i32, filters: i32): i32 {
  return 2 * kh * kw * filters;
}

/**
 * Conv2DTranspose backward for dZ [batch, outH, outW, filters] (the gradient at the
 * pre-activation; the bias gradient is dZ's column sums, `columnSums`):
 * - `dx` (0: skip) receives ∂loss/∂x [batch, h, wd, c], OVERWRITTEN;
 * - `dw` (0: skip) receives ∂loss/∂w (kh, kw, filters, c), OVERWRITTEN.
 * `scratch` holds `scratchFloats` ≥ `conv2dTransposeBackwardMinScratch` floats.
 */
export function conv2dTransposeBackward(
  x: usize,
  dz: usize,
  w: usize,
  dx: usize,
  dw: usize,
  scratch: usize,
  scratchFloats: i32,
  batch: i32,
  h: i32,
  wd: i32,
  c: i32,
  outH: i32,
  outW: i32,
  filters: i32,
  kh: i32,
  kw: i32,
  sh: i32,
  sw: i32,
  dh: i32,
  dwl: i32,
  padTop: i32,
  padLeft: i32,
): void {
  if (dx) {
    conv2d(
      dz, w, 0, dx, scratch, scratchFloats, batch, outH, outW, filters, h, wd, c, kh, kw, sh, sw, dh,
      dwl, padTop, padLeft, 0, 0,
    );
  }
  if (dw) {
    conv2dBackward(
      dz, x, 0, 0, dw, scratch, scratchFloats, batch, outH, outW, filters, h, wd, c, kh, kw, sh, sw,
      dh, dwl, padTop, padLeft,
    );
  }
}
