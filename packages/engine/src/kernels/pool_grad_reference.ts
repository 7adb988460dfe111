/** Plain TypeScript pooling backward (NHWC) — the test oracle of `pool2dBackward` and
 * `globalPool2dBackward`. */
import { type Pool2DParams, poolWindowCells } from "./pool_reference.ts";

/**
 * ∂loss/∂x of max or average pooling for dy `(batch, outH, outW, c)`. Max: each window's
 * gradient goes to its first maximal real cell in window order (rows top to bottom, then left to
 * right), as TF routes ties. Average: split evenly over the window's real cells.
 */
export function pool2dGradReference(
  x: Float32Array,
  dy: Float32Array,
  p: Pool2DParams,
  kind: "max" | "avg",
): Float32Array {
  const { batch, h, w, c, outH, outW } = p;
  const dx = new Float64Array(batch * h * w * c);
  for (let b = 0; b < batch; b++) {
    for (let oh = 0; oh < outH; oh++) {
      for (let ow = 0; ow < outW; ow++) {
        for (let ch = 0; ch < c; ch++) {
          const g = dy[((b * outH + oh) * outW + ow) * c + ch];
          const cells = poolWindowCells(p, b, oh, ow, ch);
          if (kind === "avg") {
            for (const i of cells) dx[i] += g / cells.length;
          } else {
            let best = cells[0];
            for (const i of cells) if (x[i] > x[best]) best = i;
            dx[best] += g;
          }
        }
      }
    }
  }
  return Float32Array.from(dx);
}

/** ∂loss/∂x of global max (first maximal position) or average pooling; dy is `(batch, c)`. */
export function globalPool2dGradReference(
  x: Float32Array,
  dy: Float32Array,
  batch: number,
  hw: number,
  c: number,
  kind: "max" | "avg",
): Float32Array {
  const dx = new Float32Array(batch * hw * c);
  for (let b = 0; b < batch; b++) {
    for (let ch = 0; ch < c; ch++) {
      const g = dy[b * c + ch];
      if (kind === "avg") {
        for (let i = 0; i < hw; i++) dx[(b * hw + i) * c + ch] = g / hw;
      } else {
        let best = 0;
        for (let i = 1; i < hw; i++) {
          if (x[(b * hw + i) * c + ch] > x[(b * hw + best) * c + ch]) best = i;
        }
        dx[(b * hw + best) * c + ch] = g;
      }
    }
  }
  return dx;
}
