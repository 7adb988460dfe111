/**
 * Worker side of {@linkcode loadImageFolder}'s parallel decoding: decodes and resizes a batch of
 * image files into one byte buffer, reporting per file the reason it failed.
 *
 * @module
 */
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { CorruptFileError } from "./errors.ts";
import {
  type ColorMode,
  decodeImageSync,
  type Interpolation,
  loadImageDecoders,
  resizeImage,
} from "./image_decode.ts";

/** A batch sent to a worker. */
export interface DecodeRequest {
  /** Batch id, echoed in the reply. */
  id: number;
  /** Names for error messages. */
  files: string[];
  /** Each file's bytes (transferred). */
  buffers: ArrayBuffer[];
  /** Channels to decode to. */
  colorMode: ColorMode;
  /** Target height. */
  height: number;
  /** Target width. */
  width: number;
  /** Resizing method. */
  interpolation: Interpolation;
  /** Centre-crop to the target aspect ratio first. */
  cropToAspectRatio: boolean;
  /** Fit inside the target and pad with zeros. */
  padToAspectRatio: boolean;
}

/** A worker's reply: pixels of every file, `null` or the failure per file. */
export interface DecodeReply {
  /** The request's batch id. */
  id: number;
  /** The batch's pixels, one sample after another (failed files' slots are zero). */
  pixels: Uint8Array;
  /** Per file: `null` (decoded), `{ detail }` (a CorruptFileError's detail) or `{ fatal }`. */
  errors: ({ detail: string } | { fatal: string } | null)[];
}

const ready = loadImageDecoders();

self.onmessage = async (event: MessageEvent<DecodeRequest>) => {
  await ready;
  const request = event.data;
  const sampleSize = request.height * request.width *
    (request.colorMode === "grayscale" ? 1 : request.colorMode === "rgba" ? 4 : 3);
  const pixels = new Uint8Array(request.files.length * sampleSize);
  const errors: DecodeReply["errors"] = [];
  for (let i = 0; i < request.files.length; i++) {
    const file = request.files[i];
    try {
      const image = decodeImageSync(new Uint8Array(request.buffers[i]), file, request.colorMode);
      resizeImage(
        image,
        request.height,
        request.width,
        {
          interpolation: request.interpolation,
          cropToAspectRatio: request.cropToAspectRatio,
          padToAspectRatio: request.padToAspectRatio,
        },
        pixels,
        i * sampleSize,
      );
      errors.push(null);
    } catch (error) {
      if (error instanceof CorruptFileError) {
        errors.push({ detail: error.message.slice(file.length + 2) });
      } else {
        errors.push({ fatal: error instanceof Error ? error.message : String(error) });
      }
    }
  }
  const reply: DecodeReply = { id: request.id, pixels, errors };
  self.postMessage(reply, [pixels.buffer]);
};
