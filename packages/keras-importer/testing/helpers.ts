/**
 * Shared test helpers: sample-file locations, HDF5 path listings and weight comparison.
 *
 * @module
 */
import type { WeightTensor } from "@scratchnet/engine";
import { type H5Group, openHdf5 } from "../hdf5_read.ts";

/** The layer classes the engine will support once complete (for layout-only tests). */
export const ALL_ENGINE_CLASSES: ReadonlySet<string> = new Set([
  "InputLayer",
  "Conv2D",
  "MaxPooling2D",
  "AveragePooling2D",
  "GlobalMaxPooling2D",
  "GlobalAveragePooling2D",
  "Flatten",
  "Reshape",
  "Dense",
  "Activation",
  "ReLU",
  "LeakyReLU",
  "Softmax",
  "Dropout",
  "BatchNormalization",
  "Embedding",
  "SimpleRNN",
  "LSTM",
  "GRU",
  "Bidirectional",
]);

/** Path of a file in `<repo>/../shared/keras-samples/`. */
export function samplePath(name: string): string {
  return new URL(`../../../../shared/keras-samples/${name}`, import.meta.url).pathname;
}

/** Every group (`path/`) and dataset (`path [shape]`) below `root`, sorted. */
export function listHdf5(
  bytes: Uint8Array,
  skip: (path: string) => boolean = () => false,
): string[] {
  const out: string[] = [];
  const walk = (group: H5Group) => {
    for (const key of group.keys()) {
      const item = group.get(key)!;
      if (skip(item.path)) continue;
      if (item.kind === "group") {
        out.push(`${item.path}/`);
        walk(item);
      } else {
        out.push(`${item.path} [${item.shape}]`);
      }
    }
  };
  walk(openHdf5(bytes, "<listing>"));
  return out.sort();
}

/** Whether two weight maps hold the same layers, shapes and bit-identical values. */
export function sameWeightsBitwise(
  a: Record<string, WeightTensor[]>,
  b: Record<string, WeightTensor[]>,
): string | undefined {
  const keys = Object.keys(a).sort();
  if (JSON.stringify(keys) !== JSON.stringify(Object.keys(b).sort())) {
    return `layers differ: [${keys}] vs [${Object.keys(b).sort()}]`;
  }
  for (const k of keys) {
    if (a[k].length !== b[k].length) return `${k}: ${a[k].length} vs ${b[k].length} weights`;
    for (let i = 0; i < a[k].length; i++) {
      const [x, y] = [a[k][i], b[k][i]];
      if (JSON.stringify(x.shape) !== JSON.stringify(y.shape)) {
        return `${k}[${i}]: shape [${x.shape}] vs [${y.shape}]`;
      }
      const xb = new Uint32Array(x.data.buffer, x.data.byteOffset, x.data.length);
      const yb = new Uint32Array(y.data.buffer, y.data.byteOffset, y.data.length);
      if (xb.length !== yb.length) return `${k}[${i}]: length ${xb.length} vs ${yb.length}`;
      for (let j = 0; j < xb.length; j++) {
        if (xb[j] !== yb[j]) return `${k}[${i}] element ${j}: ${x.data[j]} vs ${y.data[j]}`;
      }
    }
  }
  return undefined;
}

/** Max |a - b| over two weight maps with the same structure. */
export function maxWeightDiff(
  a: Record<string, WeightTensor[]>,
  b: Record<string, WeightTensor[]>,
): number {
  let max = 0;
  for (const k of Object.keys(a)) {
    a[k].forEach((t, i) => {
      const other = b[k]?.[i];
      if (!other || other.data.length !== t.data.length) {
        max = Infinity;
        return;
      }
      for (let j = 0; j < t.data.length; j++) {
        max = Math.max(max, Math.abs(t.data[j] - other.data[j]));
      }
    });
  }
  return max;
}
