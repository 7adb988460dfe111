/**
 * Decoding JPEG, PNG, BMP and GIF (first frame) files to 8-bit pixels, and resizing them the way
 * Keras's `image_dataset_from_directory` does (`tf.image.resize`, half-pixel centres, no
 * antialiasing; `crop_to_aspect_ratio` as Keras's `smart_resize`).
 *
 * The decoders are WebAssembly builds of well-kept C libraries from the `@cwasm` family:
 * libjpeg-turbo (the JPEG library TensorFlow itself uses, so JPEG pixels match Keras's), lodepng,
 * libnsgif and libnsbmp. Each is loaded on first use. The format is sniffed from the file's magic
 * bytes (as `tf.io.decode_image` does), not from its extension.
 *
 * @module
 */

import { CorruptFileError, InvalidOptionError } from "./errors.ts";

/** Image formats the loader decodes. */
export type ImageFormat = "jpeg" | "png" | "gif" | "bmp";

/** Channel layout of decoded images, as Keras's `color_mode`. */
export type ColorMode = "rgb" | "grayscale" | "rgba";

/** Resizing methods (Keras's `interpolation`); `bilinear` is Keras's default. */
export type Interpolation = "bilinear" | "nearest";

/** A decoded image: `height × width × channels` bytes, row-major. */
export interface DecodedImage {
  /** Width in pixels. */
  width: number;
  /** Height in pixels. */
  height: number;
  /** Channels per pixel (1, 3 or 4). */
  channels: number;
  /** The pixels, HWC. */
  data: Uint8Array;
}

interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray | Uint8Array;
}

type Decoder = (bytes: Uint8Array) => RgbaImage;

/** Channels for each colour mode. */
export const COLOR_MODE_CHANNELS: Readonly<Record<ColorMode, number>> = Object.freeze({
  grayscale: 1,
  rgb: 3,
  rgba: 4,
});

/** The format of `bytes` by its magic number, or `undefined`. */
export function sniffImageFormat(bytes: Uint8Array): ImageFormat | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) {
    return "jpeg";
  }
  if (
    bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e &&
    bytes[3] === 0x47
  ) return "png";
  if (bytes.length >= 6 && bytes[0] === 0x47 && bytes[1] === 0x49 && bytes[2] === 0x46) {
    return "gif";
  }
  if (bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) return "bmp";
  return undefined;
}

const decoders = new Map<ImageFormat, Decoder>();

/** Loads (once) the WebAssembly decoder of `format`. */
async function decoderFor(format: ImageFormat): Promise<Decoder> {
  let decoder = decoders.get(format);
  if (decoder) return decoder;
  switch (format) {
    case "jpeg":
      decoder = (await import("npm:@cwasm/jpeg-turbo@0.1.3")).decode;
      break;
    case "png":
      decoder = (await import("npm:@cwasm/lodepng@0.1.9")).decode;
      break;
    case "gif":
      decoder = (await import("npm:@cwasm/nsgif@0.1.2")).decode;
      break;
    case "bmp":
      decoder = (await import("npm:@cwasm/nsbmp@0.1.3")).decode;
      break;
  }
  decoders.set(format, decoder);
  return decoder;
}

/** Loads the decoders of `formats` ahead of time, so {@linkcode decodeImageSync} can use them. */
export async function loadImageDecoders(
  formats: readonly ImageFormat[] = ["jpeg", "png", "gif", "bmp"],
): Promise<void> {
  for (const format of formats) await decoderFor(format);
}

/**
 * Decodes an image file's bytes to `colorMode` channels. `file` names the source in errors.
 *
 * Channel conversion follows `tf.io.decode_image(channels=…)`: grey images are repeated to RGB,
 * alpha is dropped for `rgb` and set to 255 where the file has none for `rgba`. `grayscale` from
 * colour uses the ITU-R BT.601 luma (0.299 R + 0.587 G + 0.114 B, rounded), which is what libjpeg
 * computes for JPEG; TensorFlow's PNG path uses libpng's coefficients instead, so grey values of
 * colour PNGs can differ by a few levels. 16-bit PNGs are reduced to 8 bits.
 *
 * @throws {CorruptFileError} not one of the four formats, or the decoder rejects the data
 *   (truncated or corrupt file).
 */
export async function decodeImage(
  bytes: Uint8Array,
  file: string,
  colorMode: ColorMode = "rgb",
): Promise<DecodedImage> {
  const format = sniffOrThrow(bytes, file);
  await decoderFor(format);
  return decodeImageSync(bytes, file, colorMode);
}

function sniffOrThrow(bytes: Uint8Array, file: string): ImageFormat {
  const format = sniffImageFormat(bytes);
  if (format === undefined) {
    const head = Array.from(bytes.subarray(0, 4), (b) => b.toString(16).padStart(2, "0"));
    throw new CorruptFileError(
      file,
      `not a JPEG, PNG, GIF or BMP image (expected magic bytes ff d8 ff, 89 50 4e 47, "GIF" or ` +
        `"BM"; found ${bytes.length === 0 ? "an empty file" : head.join(" ")})`,
    );
  }
  return format;
}

/**
 * {@linkcode decodeImage} without waiting: the decoder of the file's format must have been
 * loaded ({@linkcode loadImageDecoders}).
 *
 * @throws {CorruptFileError} as {@linkcode decodeImage}.
 */
export function decodeImageSync(
  bytes: Uint8Array,
  file: string,
  colorMode: ColorMode = "rgb",
): DecodedImage {
  const format = sniffOrThrow(bytes, file);
  const decoder = decoders.get(format);
  if (!decoder) throw new Error(`${format} decoder not loaded: call loadImageDecoders() first`);
  let rgba: RgbaImage;
  try {
    rgba = decoder(bytes);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new CorruptFileError(
      file,
      `corrupt or truncated ${format.toUpperCase()} image (decoder: ${message})`,
      { cause: error },
    );
  }
  const { width, height } = rgba;
  if (!(width > 0 && height > 0) || rgba.data.length !== width * height * 4) {
    throw new CorruptFileError(
      file,
      `${format.toUpperCase()} decoder returned ${width}×${height} with ${rgba.data.length} bytes`,
    );
  }
  return fromRgba(rgba.data, width, height, colorMode);
}

/** Converts RGBA bytes to the channels of `colorMode`. */
export function fromRgba(
  data: ArrayLike<number>,
  width: number,
  height: number,
  colorMode: ColorMode,
): DecodedImage {
  const pixels = width * height;
  const channels = COLOR_MODE_CHANNELS[colorMode];
  if (channels === undefined) {
    throw new InvalidOptionError("colorMode", '"rgb", "grayscale" or "rgba"', colorMode);
  }
  const out = new Uint8Array(pixels * channels);
  if (channels === 4) {
    out.set(data as ArrayLike<number>);
  } else if (channels === 3) {
    for (let p = 0, o = 0, i = 0; p < pixels; p++, i += 4, o += 3) {
      out[o] = data[i];
      out[o + 1] = data[i + 1];
      out[o + 2] = data[i + 2];
    }
  } else {
    for (let p = 0, i = 0; p < pixels; p++, i += 4) {
      // BT.601 luma in 16-bit fixed point (as libjpeg's rgb_gray), rounded.
      out[p] = (19595 * data[i] + 38470 * data[i + 1] + 7471 * data[i + 2] + 32768) >>> 16;
    }
  }
  return { width, height, channels, data: out };
}

/** Options of {@linkcode resizeImage}. */
export interface ResizeOptions {
  /** `bilinear` (default) or `nearest`. */
  interpolation?: Interpolation;
  /**
   * Crop the largest centred window of the target aspect ratio before resizing (Keras's
   * `crop_to_aspect_ratio` / `smart_resize`); default false (the image is stretched).
   */
  cropToAspectRatio?: boolean;
  /**
   * Resize to fit inside the target keeping the aspect ratio, then pad with zeros around it
   * (Keras's `pad_to_aspect_ratio`, `tf.image.resize_with_pad`); default false.
   */
  padToAspectRatio?: boolean;
}

/**
 * Resizes an HWC image to `height × width` as `tf.image.resize` does (half-pixel centres, no
 * antialiasing), writing bytes into `out` from `offset` on (rounded to the nearest integer:
 * Keras keeps the float32 values, which differ from these by less than 0.5). An image already of
 * the target size is copied unchanged, as in Keras. Returns `out`.
 */
export function resizeImage(
  image: DecodedImage,
  height: number,
  width: number,
  options: ResizeOptions = {},
  out: Uint8Array = new Uint8Array(height * width * image.channels),
  offset = 0,
): Uint8Array {
  const c = image.channels;
  if (options.padToAspectRatio) {
    if (options.cropToAspectRatio) {
      throw new InvalidOptionError(
        "padToAspectRatio",
        "only one of padToAspectRatio and cropToAspectRatio",
        true,
      );
    }
    // tf.image.resize_with_pad: fit inside, floor the fitted size, centre with floor padding.
    const ratio = Math.max(image.width / width, image.height / height);
    const fitH = image.height / ratio, fitW = image.width / ratio;
    const innerH = Math.max(1, Math.floor(fitH)), innerW = Math.max(1, Math.floor(fitW));
    const padTop = Math.max(0, Math.floor((height - fitH) / 2));
    const padLeft = Math.max(0, Math.floor((width - fitW) / 2));
    const inner = resizeImage(image, innerH, innerW, { interpolation: options.interpolation });
    out.fill(0, offset, offset + height * width * c);
    for (let y = 0; y < innerH && padTop + y < height; y++) {
      const rowLength = Math.min(innerW, width - padLeft) * c;
      out.set(
        inner.subarray(y * innerW * c, y * innerW * c + rowLength),
        offset + ((padTop + y) * width + padLeft) * c,
      );
    }
    return out;
  }
  let top = 0, left = 0, srcH = image.height, srcW = image.width;
  if (options.cropToAspectRatio) {
    // smart_resize: the largest centred crop with the target's aspect ratio.
    const cropH = Math.min(srcH, Math.trunc((srcW * height) / width));
    const cropW = Math.min(srcW, Math.trunc((srcH * width) / height));
    top = Math.trunc((srcH - cropH) / 2);
    left = Math.trunc((srcW - cropW) / 2);
    srcH = cropH;
    srcW = cropW;
  }
  const src = image.data;
  const rowStride = image.width * c;
  if (srcH === height && srcW === width) {
    if (srcW === image.width) {
      // The whole frame (or full-width rows): one contiguous copy.
      const from = top * rowStride;
      const length = height * width * c;
      out.set(
        from === 0 && src.length === length ? src : src.subarray(from, from + length),
        offset,
      );
      return out;
    }
    const rowBytes = width * c;
    for (let y = 0; y < height; y++) {
      const from = (top + y) * rowStride + left * c;
      const to = offset + y * rowBytes;
      for (let k = 0; k < rowBytes; k++) out[to + k] = src[from + k];
    }
    return out;
  }
  const scaleY = srcH / height;
  const scaleX = srcW / width;
  if (options.interpolation === "nearest") {
    // tf.image.resize nearest with half-pixel centres: floor((i + 0.5) * scale), clamped.
    for (let y = 0; y < height; y++) {
      const sy = Math.min(srcH - 1, Math.floor((y + 0.5) * scaleY)) + top;
      for (let x = 0; x < width; x++) {
        const sx = Math.min(srcW - 1, Math.floor((x + 0.5) * scaleX)) + left;
        const s = sy * rowStride + sx * c;
        const o = offset + (y * width + x) * c;
        for (let k = 0; k < c; k++) out[o + k] = src[s + k];
      }
    }
    return out;
  }
  const x0 = new Int32Array(width), x1 = new Int32Array(width), xl = new Float32Array(width);
  for (let x = 0; x < width; x++) {
    const inX = (x + 0.5) * scaleX - 0.5;
    const f = Math.floor(inX);
    x0[x] = (Math.max(f, 0) + left) * c;
    x1[x] = (Math.min(Math.ceil(inX), srcW - 1) + left) * c;
    xl[x] = inX - f;
  }
  for (let y = 0; y < height; y++) {
    const inY = (y + 0.5) * scaleY - 0.5;
    const f = Math.floor(inY);
    const r0 = (Math.max(f, 0) + top) * rowStride;
    const r1 = (Math.min(Math.ceil(inY), srcH - 1) + top) * rowStride;
    const yl = inY - f;
    for (let x = 0; x < width; x++) {
      const o = offset + (y * width + x) * c;
      const a = xl[x];
      for (let k = 0; k < c; k++) {
        const topV = src[r0 + x0[x] + k] + (src[r0 + x1[x] + k] - src[r0 + x0[x] + k]) * a;
        const botV = src[r1 + x0[x] + k] + (src[r1 + x1[x] + k] - src[r1 + x0[x] + k]) * a;
        out[o + k] = Math.round(topV + (botV - topV) * yl);
      }
    }
  }
  return out;
}
