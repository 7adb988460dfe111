/**
 * Files the browser tests make: a PNG encoder (RGB, no compression tricks) and a small text
 * model for the tokenizer path, written as a `.keras` file by the importer.
 *
 * @module
 */
import type { ModelSpec } from "../packages/engine/mod.ts";

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

async function zlib(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(
    new CompressionStream("deflate"),
  );
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  out.set(new TextEncoder().encode(type), 4);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/** Encodes 8-bit RGB pixels (row-major, `width × height × 3`) as a PNG file. */
export async function encodePng(
  rgb: Uint8Array,
  width: number,
  height: number,
): Promise<Uint8Array> {
  if (rgb.length !== width * height * 3) {
    throw new RangeError(`encodePng: expected ${width * height * 3} bytes, got ${rgb.length}`);
  }
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 2, 0, 0, 0], 8); // 8-bit, truecolour, deflate, no filter method, no interlace
  const raw = new Uint8Array(height * (1 + width * 3));
  for (let y = 0; y < height; y++) {
    raw[y * (1 + width * 3)] = 0; // filter type None
    raw.set(rgb.subarray(y * width * 3, (y + 1) * width * 3), y * (1 + width * 3) + 1);
  }
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", await zlib(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** A deterministic pseudo-random generator (mulberry32) in [-scale, scale). */
function uniform(seed: number, scale: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  };
}

/**
 * A text classifier for token ids of a TextVectorization with `vocabularySize` tokens and
 * `length` ids per text: Embedding (mask_zero) → LSTM → Dense softmax, random weights.
 */
export function textModelSpec(vocabularySize: number, length: number, seed = 7): ModelSpec {
  const next = uniform(seed, 0.5);
  const array = (shape: number[]) => {
    const data = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = next();
    return { name: "", shape, data };
  };
  const embed = 8, units = 4, classes = 3;
  return {
    kerasVersion: "3.10.0",
    config: {
      class_name: "Sequential",
      config: {
        name: "text_classifier",
        layers: [
          {
            class_name: "InputLayer",
            config: { name: "ids", batch_shape: [null, length], dtype: "int32" },
          },
          {
            class_name: "Embedding",
            config: {
              name: "embedding",
              input_dim: vocabularySize,
              output_dim: embed,
              mask_zero: true,
            },
          },
          {
            class_name: "LSTM",
            config: {
              name: "lstm",
              units,
              activation: "tanh",
              recurrent_activation: "sigmoid",
              use_bias: true,
              return_sequences: false,
            },
          },
          {
            class_name: "Dense",
            config: { name: "dense", units: classes, activation: "softmax", use_bias: true },
          },
        ],
      },
    },
    weights: {
      embedding: [array([vocabularySize, embed])],
      lstm: [array([embed, 4 * units]), array([units, 4 * units]), array([4 * units])],
      dense: [array([units, classes]), array([classes])],
    },
  };
}
