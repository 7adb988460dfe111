/**
 * Image request bodies (`Content-Type: image/jpeg`, `image/png`, …): one image per request,
 * decoded and resized to the model's input by a decoder the host supplies (the Deno host uses
 * `@scratchnet/datasets`, as `deno task predict --images` does), then scaled to the model's pixel
 * range. The handler itself stays free of decoders so edge bundles do not carry them.
 */
import { ServingError } from "./errors.ts";

/** Content types read as one image. */
export const IMAGE_TYPES: readonly string[] = ["image/jpeg", "image/png", "image/gif", "image/bmp"];

/** Where an image must end up: the model input's height, width and channels. */
export interface ImageTarget {
  height: number;
  width: number;
  channels: 1 | 3 | 4;
}

/**
 * Decodes an image file's bytes to `target.channels` channels and resizes it to
 * `target.height × target.width`: HWC bytes. Throws (any error) when the bytes are not an image.
 */
export type ImageDecoder = (bytes: Uint8Array, target: ImageTarget) => Promise<Uint8Array>;

/** The pixel range a model expects: bytes divided by 255 (`0-1`) or as they are (`0-255`). */
export type PixelRange = "0-1" | "0-255";

/** The image target of an input shaped `[height, width, channels]` (no batch axis), or null. */
export function imageTargetOf(shape: readonly (number | null)[]): ImageTarget | null {
  if (shape.length !== 3 || shape.some((d) => d === null)) return null;
  const [height, width, channels] = shape as number[];
  if (channels !== 1 && channels !== 3 && channels !== 4) return null;
  return { height, width, channels };
}

/** Largest image (width × height) decoded by default: 4096 × 4096. */
export const MAX_IMAGE_PIXELS = 4096 * 4096;

/**
 * Width and height from a JPEG, PNG, GIF or BMP header, without decoding; null when the bytes do
 * not show them. Lets the server refuse a small file that would decode to gigabytes.
 */
export function imageDimensions(bytes: Uint8Array): { width: number; height: number } | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = bytes.length;
  if (n >= 24 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return { width: view.getUint32(16), height: view.getUint32(20) }; // IHDR
  }
  if (n >= 10 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) {
    return { width: view.getUint16(6, true), height: view.getUint16(8, true) };
  }
  if (n >= 26 && bytes[0] === 0x42 && bytes[1] === 0x4d) {
    return { width: Math.abs(view.getInt32(18, true)), height: Math.abs(view.getInt32(22, true)) };
  }
  if (n >= 4 && bytes[0] === 0xff && bytes[1] === 0xd8) {
    // Walk the JPEG segments to the first start-of-frame (SOF0–SOF15 but DHT, JPG, DAC).
    let at = 2;
    while (at + 9 < n) {
      if (bytes[at] !== 0xff) return null;
      const marker = bytes[at + 1];
      if (marker === 0xff) {
        at++;
        continue;
      }
      const length = view.getUint16(at + 2);
      if (
        marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc
      ) {
        return { width: view.getUint16(at + 7), height: view.getUint16(at + 5) };
      }
      at += 2 + length;
    }
  }
  return null;
}

/** Decodes one image body into the model's float32 input (one instance, HWC). */
export async function decodeImageBody(
  decoder: ImageDecoder,
  bytes: Uint8Array,
  target: ImageTarget,
  range: PixelRange,
  maxPixels: number = MAX_IMAGE_PIXELS,
): Promise<Float32Array> {
  const size = imageDimensions(bytes);
  if (size && size.width * size.height > maxPixels) {
    throw new ServingError(
      413,
      "payload_too_large",
      "body",
      `expected an image of at most ${maxPixels} pixels, received ${size.width}×${size.height}`,
    );
  }
  let pixels: Uint8Array;
  try {
    pixels = await decoder(bytes, target);
  } catch (e) {
    throw new ServingError(
      400,
      "invalid_body",
      "body",
      `expected a JPEG, PNG, GIF or BMP image: ${(e as Error).message}`,
    );
  }
  const want = target.height * target.width * target.channels;
  if (pixels.length !== want) {
    throw new ServingError(
      500,
      "internal",
      null,
      `the image decoder gave ${pixels.length} values, the input takes ${want}`,
    );
  }
  // Divided (not multiplied by 1/255) to give the bits `deno task predict --images` gives.
  const divisor = range === "0-1" ? 255 : 1;
  const out = new Float32Array(want);
  for (let i = 0; i < want; i++) out[i] = pixels[i] / divisor;
  return out;
}

/**
 * `0-255` when the model config contains a `Rescaling` layer (it scales bytes itself), else
 * `0-1` — the rule `deno task predict --images` applies.
 */
export function pixelRangeOf(config: unknown): PixelRange {
  let found = false;
  const visit = (node: unknown): void => {
    if (found || typeof node !== "object" || node === null) return;
    if (Array.isArray(node)) return node.forEach(visit);
    const record = node as Record<string, unknown>;
    if (record.class_name === "Rescaling") {
      found = true;
      return;
    }
    for (const v of Object.values(record)) visit(v);
  };
  visit(config);
  return found ? "0-255" : "0-1";
}
