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
  const { batch, h, w, c, outH, outW, padTop, padLeft } = p;
  const [ph, pw] = p.poolSize;
  const [sh, sw] = p.strides;
  const y = new Float32Array(batch * outH * outW * c);
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        for (let ch = 0; ch < c; ch++) {
          let best = -Infinity, sum = 0, count = 0;
          for (let ky = 0; ky < ph; ky++) {
            const iy = oh * sh - padTop + ky;
            if (iy < 0 || iy >= h) continue;
            for (let kx = 0; kx < pw; kx++) {
              const ix = ow * sw - padLeft + kx;
              if (ix < 0 || ix >= w) continue;
              const v = x[((b * h + iy) * w + ix) * c + ch];
              best = Math.max(best, v);
              sum += v;
              count++;
            }
          }
          y[((b * outH + oh) * outW + ow) * c + ch] = kind === "max" ? best : sum / count;
        }
      }
    }
  }
  return y;
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
