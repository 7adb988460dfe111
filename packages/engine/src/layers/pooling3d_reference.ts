/**
 * Plain TypeScript 3-D poolings — the test oracles of MaxPooling3D / AveragePooling3D (which run
 * as two `pool2d` stages, spatial_pooling.ts) and of GlobalMaxPooling3D / GlobalAveragePooling3D (which
 * TF.js lacks). Direct loops over each whole 3-D window, float64 sums.
 *
 * @module
 */
import { axisGeometry, type Padding } from "../conv_geometry.ts";

/**
 * Calls `visit(cells)` for every output of a 3-D pooling of x [batch, d, h, w, c] with windows
 * `pool` and `strides` (depth, rows, cols), in output order ([batch, d', h', w', c]): `cells`
 * are the flat indices into x of the window's real cells, in depth, row, column order.
 */
function forEachWindow(
  shape: readonly number[],
  pool: readonly number[],
  strides: readonly number[],
  padding: Padding,
  visit: (cells: number[]) => void,
): void {
  const [batch, d, h, w, c] = shape;
  const [gd, gy, gx] = [d, h, w].map((len, i) =>
    axisGeometry(len, pool[i], strides[i], 1, padding)
  );
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
            visit(cells);
          }
        }
      }
    }
  }
}

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
  const y: number[] = [];
  forEachWindow(shape, pool, strides, padding, (cells) => {
    let best = -Infinity, sum = 0;
    for (const i of cells) {
      best = Math.max(best, x[i]);
      sum += x[i];
    }
    y.push(kind === "max" ? best : sum / cells.length);
  });
  return new Float32Array(y);
}

/**
 * Global max or average of x [batch, d, h, w, c] over d·h·w → [batch, c]: the pooling whose one
 * window is the whole volume.
 */
export function globalPool3dReference(
  x: Float32Array,
  shape: readonly number[],
  kind: "max" | "avg",
): Float32Array {
  const volume = shape.slice(1, 4);
  return pool3dReference(x, shape, volume, volume, "valid", kind);
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
  const volume = shape.slice(1, 4);
  return pool3dGradReference(x, shape, volume, volume, "valid", kind, dy);
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
  const dx = new Float32Array(x.length);
  let o = 0;
  forEachWindow(shape, pool, strides, padding, (cells) => {
    const g = dy[o++];
    if (kind === "avg") {
      for (const i of cells) dx[i] += g / cells.length;
      return;
    }
    let arg = cells[0];
    for (const i of cells) if (x[i] > x[arg]) arg = i;
    dx[arg] += g;
  });
  return dx;
}
