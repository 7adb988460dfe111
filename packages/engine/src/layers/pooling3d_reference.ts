/**
 * Plain TypeScript 3-D poolings — the test oracles of MaxPooling3D / AveragePooling3D (which run
 * as two `pool2d` stages, spatial_pooling.ts) and of GlobalMaxPooling3D / GlobalAveragePooling3D (which
 * TF.js lacks). Direct loops over each whole 3-D window, float64 sums.
 *
 * @module
 */
import { axisGeometry, type Padding } from "../conv_geometry.ts";

/**
 * Max or average pooling of x [batch, d, h, w, c] with windows `pool` and `strides` (depth, rows,
 * cols): only real cells take part (average divides by their count). Returns
 * [batch, d', h', w', c].
 */
export function pool3dReference(
  x: Float32Array,
  shape: readonly number[],
  pool: readonly number[],
  strides: readonly number[],
  padding: Padding,
  kind: "max" | "avg",
): Float32Array {
  const [batch, d, h, w, c] = shape;
  const [gd, gy, gx] = [d, h, w].map((len, i) =>
    axisGeometry(len, pool[i], strides[i], 1, padding)
  );
  const y = new Float32Array(batch * gd.out * gy.out * gx.out * c);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let od = 0; od < gd.out; od++) {
      for (let oy = 0; oy < gy.out; oy++) {
        for (let ox = 0; ox < gx.out; ox++) {
          for (let ch = 0; ch < c; ch++) {
            let best = -Infinity, sum = 0, count = 0;
            for (let i = 0; i < pool[0]; i++) {
              const z = od * strides[0] - gd.padBefore + i;
              if (z < 0 || z >= d) continue;
              for (let j = 0; j < pool[1]; j++) {
                const r = oy * strides[1] - gy.padBefore + j;
                if (r < 0 || r >= h) continue;
                for (let k = 0; k < pool[2]; k++) {
                  const q = ox * strides[2] - gx.padBefore + k;
                  if (q < 0 || q >= w) continue;
                  const v = x[(((b * d + z) * h + r) * w + q) * c + ch];
                  best = Math.max(best, v);
                  sum += v;
                  count++;
                }
              }
            }
            y[o++] = kind === "max" ? best : sum / count;
          }
        }
      }
    }
  }
  return y;
}

/** Global max or average of x [batch, d, h, w, c] over d·h·w → [batch, c]. */
export function globalPool3dReference(
  x: Float32Array,
  shape: readonly number[],
  kind: "max" | "avg",
): Float32Array {
  const [batch, d, h, w, c] = shape;
  const cells = d * h * w;
  const y = new Float32Array(batch * c);
  for (let b = 0; b < batch; b++) {
    for (let ch = 0; ch < c; ch++) {
      let best = -Infinity, sum = 0;
      for (let i = 0; i < cells; i++) {
        const v = x[(b * cells + i) * c + ch];
        best = Math.max(best, v);
        sum += v;
      }
      y[b * c + ch] = kind === "max" ? best : sum / cells;
    }
  }
  return y;
}

/**
 * dx of the global poolings for dy [batch, c]: max gives each channel's gradient to its first
 * maximal cell, average gives dy / (d·h·w) to every cell.
 */
export function globalPool3dGradReference(
  x: Float32Array,
  shape: readonly number[],
  dy: Float32Array,
  kind: "max" | "avg",
): Float32Array {
  const [batch, d, h, w, c] = shape;
  const cells = d * h * w;
  const dx = new Float32Array(x.length);
  for (let b = 0; b < batch; b++) {
    for (let ch = 0; ch < c; ch++) {
      const g = dy[b * c + ch];
      if (kind === "avg") {
        for (let i = 0; i < cells; i++) dx[(b * cells + i) * c + ch] = g / cells;
        continue;
      }
      let arg = 0;
      for (let i = 1; i < cells; i++) {
        if (x[(b * cells + i) * c + ch] > x[(b * cells + arg) * c + ch]) arg = i;
      }
      dx[(b * cells + arg) * c + ch] = g;
    }
  }
  return dx;
}

/**
 * dx of {@link pool3dReference} for dy [batch, d', h', w', c]: max routes each output's gradient
 * to the first maximal real cell of its window (depth, row, column order); average spreads it
 * evenly over the window's real cells. Overlapping windows add up.
 */
export function pool3dGradReference(
  x: Float32Array,
  shape: readonly number[],
  pool: readonly number[],
  strides: readonly number[],
  padding: Padding,
  kind: "max" | "avg",
  dy: Float32Array,
): Float32Array {
  const [batch, d, h, w, c] = shape;
  const [gd, gy, gx] = [d, h, w].map((len, i) =>
    axisGeometry(len, pool[i], strides[i], 1, padding)
  );
  const dx = new Float32Array(x.length);
  let o = 0;
  for (let b = 0; b < batch; b++) {
    for (let od = 0; od < gd.out; od++) {
      for (let oy = 0; oy < gy.out; oy++) {
        for (let ox = 0; ox < gx.out; ox++) {
          for (let ch = 0; ch < c; ch++) {
            const cells: number[] = [];
            for (let i = 0; i < pool[0]; i++) {
              const z = od * strides[0] - gd.padBefore + i;
              if (z < 0 || z >= d) continue;
              for (let j = 0; j < pool[1]; j++) {
                const r = oy * strides[1] - gy.padBefore + j;
                if (r < 0 || r >= h) continue;
                for (let k = 0; k < pool[2]; k++) {
                  const q = ox * strides[2] - gx.padBefore + k;
                  if (q >= 0 && q < w) cells.push((((b * d + z) * h + r) * w + q) * c + ch);
                }
              }
            }
            const g = dy[o++];
            if (kind === "avg") {
              for (const i of cells) dx[i] += g / cells.length;
              continue;
            }
            let arg = cells[0];
            for (const i of cells) if (x[i] > x[arg]) arg = i;
            dx[arg] += g;
          }
        }
      }
    }
  }
  return dx;
}
