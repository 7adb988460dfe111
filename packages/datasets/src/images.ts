/**
 * Types and helpers shared by the image loaders (CIFAR-10, MNIST, Fashion-MNIST).
 *
 * @module
 */

import { InvalidOptionError } from "./errors.ts";

/** Pixel type of loaded images: `float32` scales to [0, 1]; `uint8` keeps the raw bytes. */
export type ImageDtype = "float32" | "uint8";

/** The array type for an {@linkcode ImageDtype}. */
export type ImageArray<D extends ImageDtype> = D extends "uint8" ? Uint8Array : Float32Array;

/** A set of images in NHWC layout with their class ids. */
export interface ImageSplit<D extends ImageDtype = "float32"> {
  /** Pixels, NHWC (`[n, height, width, channels]`), row-major. */
  images: ImageArray<D>;
  /** Class ids, one per image. */
  labels: Int32Array;
  /** `[n, height, width, channels]`. */
  shape: [number, number, number, number];
}

/** Checks an image dtype option. @throws {InvalidOptionError} */
export function checkDtype(dtype: unknown): ImageDtype {
  if (dtype !== "float32" && dtype !== "uint8") {
    throw new InvalidOptionError("dtype", '"float32" or "uint8"', dtype);
  }
  return dtype;
}

/** fround(v / 255) for every byte value: a lookup is exact and faster than dividing. */
const UNIT_SCALE = Float32Array.from({ length: 256 }, (_, v) => v / 255);

/** Converts raw bytes to `dtype` (float32 divides by 255). */
export function convertPixels<D extends ImageDtype>(pixels: Uint8Array, dtype: D): ImageArray<D> {
  if (dtype === "uint8") return pixels as ImageArray<D>;
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = UNIT_SCALE[pixels[i]];
  return out as ImageArray<D>;
}

/**
 * Builds an {@linkcode ImageSplit} from raw NHWC bytes, optionally keeping only `indices`
 * (in their order).
 */
export function makeImageSplit<D extends ImageDtype>(
  pixels: Uint8Array,
  labels: Int32Array,
  sampleShape: [number, number, number],
  dtype: D,
  indices?: Int32Array,
): ImageSplit<D> {
  const sampleSize = sampleShape[0] * sampleShape[1] * sampleShape[2];
  if (indices === undefined) {
    return {
      images: convertPixels(pixels, dtype),
      labels,
      shape: [labels.length, ...sampleShape],
    };
  }
  const pickedLabels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) pickedLabels[i] = labels[indices[i]];
  const shape: ImageSplit<D>["shape"] = [indices.length, ...sampleShape];
  if (dtype === "uint8") {
    const picked = new Uint8Array(indices.length * sampleSize);
    for (let i = 0; i < indices.length; i++) {
      const source = indices[i] * sampleSize;
      picked.set(pixels.subarray(source, source + sampleSize), i * sampleSize);
    }
    return { images: picked as ImageArray<D>, labels: pickedLabels, shape };
  }
  // Gather and scale in one pass, without an intermediate byte copy.
  const out = new Float32Array(indices.length * sampleSize);
  for (let i = 0; i < indices.length; i++) {
    const source = indices[i] * sampleSize;
    const target = i * sampleSize;
    for (let k = 0; k < sampleSize; k++) out[target + k] = UNIT_SCALE[pixels[source + k]];
  }
  return { images: out as ImageArray<D>, labels: pickedLabels, shape };
}
