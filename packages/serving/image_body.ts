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

/** Decodes one image body into the model's float32 input (one instance, HWC). */
export async function decodeImageBody(
  decoder: ImageDecoder,
  bytes: Uint8Array,
  target: ImageTarget,
  range: PixelRange,
): Promise<Float32Array> {
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
