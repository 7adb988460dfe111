/** Plain TypeScript pooling (NHWC) — the test oracle of `pool2d` and `globalPool2d`. */

/** Geometry of one 2-D pooling (padding already resolved). */
export interface Pool2DParams {
  batch: number;
  h: number;
  w: number;
  c: number;
  outH: number;
  outW: number;
  poolSize: [number, number];
  strides: [number, number];
  padTop: number;
  padLeft: number;
}

/**
 * Max or average over each window's real cells: padding never wins a max and is not counted in
 * an average's divisor.
 */
export function pool2dReference(
  x: Float32Array,
  p: Pool2DParams,
  kind: "max" | "avg",
): Float32Array {
  const { batch, c, outH, outW } = p;
  const y = new Float32Array(batch * outH * outW * c);
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity, sum = 0;
          const cells = poolWindowCells(p, b, oh, ow, ch);
          for (const i of cells) {
            best = Math.max(best, x[i]);
            sum += x[i];
          }
          y[((b * outH + oh) * outW + ow) * c + ch] = kind === "max" ? best : sum / cells.length;
        }
      }
    }
  }
  return y;
}

/**
 * Flat NHWC indices of the real (non-padding) cells of output pixel (`b`, `oh`, `ow`) channel
 * `ch`'s window, in window order: rows top to bottom, then left to right.
 */
export function poolWindowCells(
  p: Pool2DParams,
  b: number,
  oh: number,
  ow: number,
  ch: number,
): number[] {
  const { h, w, c, padTop, padLeft } = p;
  const [ph, pw] = p.poolSize;
  const [sh, sw] = p.strides;
  const cells: number[] = [];
  for (let ky = 0; ky < ph; ky++) {
    const iy = oh * sh - padTop + ky;
    if (iy < 0 || iy >= h) continue;
    for (let kx = 0; kx < pw; kx++) {
      const ix = ow * sw - padLeft + kx;
      if (ix < 0 || ix >= w) continue;
      cells.push(((b * h + iy) * w + ix) * c + ch);
    }
  }
  return cells;
}

/** Max or mean over the `hw` positions of each sample: `(batch, hw, c)` → `(batch, c)`. */
export function globalPool2dReference(
  x: Float32Array,
  batch: number,
  hw: number,
  c: number,
  kind: "max" | "avg",
): Float32Array {
  const y = new Float32Array(batch * c);
  for (let b = 0; b < batch; b++) {
    for (let ch = 0; ch < c; ch++) {
      let best = -Infinity, sum = 0;
      for (let i = 0; i < hw; i++) {
        const v = x[(b * hw + i) * c + ch];
        best = Math.max(best, v);
        sum += v;
      }
      y[b * c + ch] = kind === "max" ? best : sum / hw;
    }
  }
  return y;
}
