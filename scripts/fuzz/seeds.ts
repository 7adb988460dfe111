/**
 * The fuzzer's seed corpus: valid files of every format, from the real Keras samples, the
 * importer's test writers, real NusaX/MNIST data and small synthetic CIFAR records and `.npy`
 * arrays. Mutations start from these.
 *
 * @module
 */
import { gzipSync, strToU8, unzipSync } from "fflate";
import { createTar } from "nanotar";
import { kerasArchiveBytes, writeNpy } from "../../packages/keras-importer/mod.ts";
import {
  cnnModel,
  denseModel,
  globalPoolModel,
  rnnModel,
  type TestModel,
} from "../../packages/keras-importer/testing/model_specs.ts";
import {
  writeKeras2WeightsH5,
  writeKeras3WeightsH5,
  writeLegacyH5,
  writeTfjs,
} from "../../packages/keras-importer/testing/writers.ts";
import { TextVectorization } from "../../packages/tokenizer/mod.ts";
import { type Field, findSignatures } from "./mutate.ts";
import { Rng } from "./rng.ts";

/** Every format the fuzzer mutates (plus `predict`, which fuzzes engine inputs). */
export const FORMATS = [
  "keras",
  "h5",
  "weights-h5",
  "tfjs",
  "npy",
  "csv",
  "idx",
  "cifar",
  "cifar-tgz",
  "tokenizer",
  "predict",
  "cli",
] as const;

/** A fuzzed format. */
export type Format = typeof FORMATS[number];

/** Harness self-tests: targets that misbehave on purpose (only run when asked for by name). */
export const SELF_TEST_FORMATS = ["selftest-throw", "selftest-hang", "selftest-alloc"] as const;

/** A format name accepted by the campaign. */
export type AnyFormat = Format | typeof SELF_TEST_FORMATS[number];

/** One valid input. */
export interface Seed {
  format: AnyFormat;
  name: string;
  /** File name → bytes (a model file, or `model.json` + shards, or config + vocabulary). */
  files: Record<string, Uint8Array>;
  /** Known header fields per file, for length-field edits. */
  fields?: Record<string, Field[]>;
  /** Offsets near structures per file (HDF5 object headers, B-trees, heaps). */
  hotSpots?: Record<string, number[]>;
  /** For gzip seeds: the decompressed bytes, mutated and re-compressed by some cases. */
  inner?: Uint8Array;
  /** Format-specific details (IDX rank, TF.js shard order, weights-only config). */
  meta?: Record<string, unknown>;
}

const SAMPLES = new URL("../../../shared/keras-samples/", import.meta.url);
const DATA = new URL("../../../shared/data/", import.meta.url);

async function readShared(base: URL, path: string): Promise<Uint8Array | undefined> {
  try {
    return await Deno.readFile(new URL(path, base));
  } catch {
    return undefined;
  }
}

/** Local headers, central directory entries and the end record of a zip archive. */
export function zipFields(bytes: Uint8Array): Field[] {
  const f = (offset: number, size: 2 | 4, label: string): Field => ({
    offset,
    size,
    littleEndian: true,
    label,
  });
  const out: Field[] = [];
  for (const o of findSignatures(bytes, "PK\x03\x04")) {
    out.push(
      f(o + 8, 2, "zip local compression"),
      f(o + 18, 4, "zip local compressedSize"),
      f(o + 22, 4, "zip local originalSize"),
      f(o + 26, 2, "zip local nameLength"),
      f(o + 28, 2, "zip local extraLength"),
    );
  }
  for (const o of findSignatures(bytes, "PK\x01\x02")) {
    out.push(
      f(o + 10, 2, "zip cd compression"),
      f(o + 20, 4, "zip cd compressedSize"),
      f(o + 24, 4, "zip cd originalSize"),
      f(o + 28, 2, "zip cd nameLength"),
      f(o + 30, 2, "zip cd extraLength"),
      f(o + 42, 4, "zip cd localOffset"),
    );
  }
  for (const o of findSignatures(bytes, "PK\x05\x06")) {
    out.push(
      f(o + 8, 2, "zip eocd entriesOnDisk"),
      f(o + 10, 2, "zip eocd entries"),
      f(o + 12, 4, "zip eocd cdSize"),
      f(o + 16, 4, "zip eocd cdOffset"),
    );
  }
  return out;
}

/** Gzip trailer (CRC-32, ISIZE) and header flags. */
export function gzipFields(bytes: Uint8Array): Field[] {
  const n = bytes.length;
  return [
    { offset: n - 4, size: 4, littleEndian: true, label: "gzip ISIZE" },
    { offset: n - 8, size: 4, littleEndian: true, label: "gzip CRC-32" },
    { offset: 3, size: 1, littleEndian: true, label: "gzip flags" },
  ];
}

/** HDF5 structures worth hitting: superblock and object header / B-tree / heap signatures. */
export function hdf5HotSpots(bytes: Uint8Array): number[] {
  const spots = [0];
  for (const sig of ["OHDR", "OCHK", "TREE", "HEAP", "SNOD", "GCOL", "BTHD", "BTLF", "FRHP"]) {
    spots.push(...findSignatures(bytes, sig, 512));
  }
  return spots;
}

function idxFields(rank: number): Field[] {
  const out: Field[] = [
    { offset: 2, size: 1, littleEndian: false, label: "idx type" },
    { offset: 3, size: 1, littleEndian: false, label: "idx rank" },
  ];
  for (let i = 0; i < rank; i++) {
    out.push({ offset: 4 + 4 * i, size: 4, littleEndian: false, label: `idx dim ${i}` });
  }
  return out;
}

function makeIdx(dims: number[], data: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + data.length);
  out[2] = 0x08;
  out[3] = dims.length;
  const view = new DataView(out.buffer);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  out.set(data, 4 + 4 * dims.length);
  return out;
}

/** A `.npy` file with any header text and data (for dtypes `writeNpy` does not write). */
export function makeNpy(header: string, data: Uint8Array, major = 1): Uint8Array {
  const prefix = major === 1 ? 10 : 12;
  const total = Math.ceil((prefix + header.length + 1) / 64) * 64;
  const text = header.padEnd(total - prefix - 1, " ") + "\n";
  const out = new Uint8Array(total + data.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, major, 0]);
  const view = new DataView(out.buffer);
  if (major === 1) view.setUint16(8, text.length, true);
  else view.setUint32(8, text.length, true);
  out.set(new TextEncoder().encode(text), prefix);
  out.set(data, total);
  return out;
}

function npyFields(bytes: Uint8Array): Field[] {
  return [
    { offset: 6, size: 1, littleEndian: true, label: "npy major" },
    { offset: 8, size: bytes[6] === 1 ? 2 : 4, littleEndian: true, label: "npy header length" },
  ];
}

async function modelSeeds(models: TestModel[]): Promise<Seed[]> {
  const seeds: Seed[] = [];
  const date = new Date(Date.UTC(2025, 0, 1));
  for (const m of models) {
    const keras = await kerasArchiveBytes(m.spec, { date });
    seeds.push({
      format: "keras",
      name: `writer:${m.name}.keras`,
      files: { "model.keras": keras },
      fields: { "model.keras": zipFields(keras) },
      hotSpots: { "model.keras": hdf5HotSpots(keras) },
    });
    for (const style of ["keras2", "keras3"] as const) {
      const h5 = await writeLegacyH5(m.spec, style);
      seeds.push({
        format: "h5",
        name: `writer:${m.name}-${style}.h5`,
        files: { "model.h5": h5 },
        hotSpots: { "model.h5": hdf5HotSpots(h5) },
      });
    }
    const config = strToU8(JSON.stringify(m.spec.config));
    for (
      const [label, h5] of [
        ["keras3", await writeKeras3WeightsH5(m.spec)],
        ["keras2", await writeKeras2WeightsH5(m.spec)],
      ] as const
    ) {
      seeds.push({
        format: "weights-h5",
        name: `writer:${m.name}-${label}.weights.h5`,
        files: { "model.weights.h5": h5, "config.json": config },
        hotSpots: { "model.weights.h5": hdf5HotSpots(h5) },
      });
    }
    for (const q of ["none", "uint8", "float16"] as const) {
      const exported = writeTfjs(m.spec, q, 2048);
      const files: Record<string, Uint8Array> = {
        "model.json": strToU8(JSON.stringify(exported.modelJson)),
      };
      for (const [name, bytes] of exported.files) files[name] = bytes;
      seeds.push({
        format: "tfjs",
        name: `writer:${m.name}-${q}.tfjs`,
        files,
        meta: { shards: [...exported.files.keys()] },
      });
    }
  }
  return seeds;
}

async function sampleSeeds(): Promise<Seed[]> {
  const seeds: Seed[] = [];
  for (const name of ["vectorizer.keras", "lstm_bidirectional.keras", "lstm_2_layer.keras"]) {
    const bytes = await readShared(SAMPLES, name);
    if (!bytes) continue;
    seeds.push({
      format: "keras",
      name: `sample:${name}`,
      files: { "model.keras": bytes },
      fields: { "model.keras": zipFields(bytes) },
      hotSpots: { "model.keras": hdf5HotSpots(bytes) },
    });
  }
  for (const name of ["test3_model_2.h5", "best_rnn_model.h5"]) {
    const bytes = await readShared(SAMPLES, name);
    if (!bytes) continue;
    seeds.push({
      format: "h5",
      name: `sample:${name}`,
      files: { "model.h5": bytes },
      hotSpots: { "model.h5": hdf5HotSpots(bytes) },
    });
  }
  return seeds;
}

function npySeeds(): Seed[] {
  const rng = new Rng(7);
  const floats = new Float32Array(12).map(() => rng.next() * 2 - 1);
  const ints = new Int32Array([0, 1, 5, 2835, 7, 3]);
  const i64 = new Uint8Array(8 * 6);
  const i64View = new DataView(i64.buffer);
  ints.forEach((v, i) => i64View.setBigInt64(8 * i, BigInt(v), true));
  const be = new Uint8Array(4 * 6);
  const beView = new DataView(be.buffer);
  floats.slice(0, 6).forEach((v, i) => beView.setFloat32(4 * i, v, false));
  const files: [string, Uint8Array][] = [
    ["f4 [3,4]", writeNpy({ data: floats, shape: [3, 4] })],
    ["i4 [2,3]", writeNpy({ data: ints, shape: [2, 3] })],
    ["i8 [1,6]", makeNpy("{'descr': '<i8', 'fortran_order': False, 'shape': (1, 6), }", i64)],
    [">f4 [6] v2", makeNpy("{'descr': '>f4', 'fortran_order': False, 'shape': (6,), }", be, 2)],
    [
      "f4 scalar",
      makeNpy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", be.slice(0, 4)),
    ],
  ];
  return files.map(([name, bytes]) => ({
    format: "npy",
    name: `npy:${name}`,
    files: { "x.npy": bytes },
    fields: { "x.npy": npyFields(bytes) },
  }));
}

async function csvSeeds(): Promise<Seed[]> {
  const seeds: Seed[] = [];
  const valid = await readShared(DATA, "nusax-sentiment/indonesian/valid.csv");
  const train = await readShared(DATA, "nusax-sentiment/english/train.csv");
  const sources: [string, Uint8Array | undefined][] = [
    ["nusax:indonesian/valid.csv", valid],
    [
      "nusax:english/train.csv (first 40 lines)",
      train && strToU8(new TextDecoder().decode(train).split("\n").slice(0, 40).join("\n")),
    ],
  ];
  for (const [name, bytes] of sources) {
    if (!bytes) continue;
    seeds.push({ format: "csv", name, files: { "data.csv": bytes } });
  }
  if (seeds.length === 0) {
    const text =
      'id,text,label\n1,"enak, sekali",positive\n2,biasa saja,neutral\n3,buruk,negative\n';
    seeds.push({
      format: "csv",
      name: "csv:synthetic",
      files: { "data.csv": strToU8(text) },
    });
  }
  return seeds;
}

async function idxSeeds(): Promise<Seed[]> {
  const seeds: Seed[] = [];
  const add = (name: string, raw: Uint8Array, rank: number, gzip: boolean) => {
    const bytes = gzip ? gzipSync(raw, { level: 6, mtime: 0 }) : raw;
    seeds.push({
      format: "idx",
      name,
      files: { [gzip ? "data.idx.gz" : "data.idx"]: bytes },
      fields: { [gzip ? "data.idx.gz" : "data.idx"]: gzip ? gzipFields(bytes) : idxFields(rank) },
      inner: gzip ? raw : undefined,
      meta: { rank },
    });
  };
  const labelsGz = await readShared(DATA, "mnist/t10k-labels-idx1-ubyte.gz");
  if (labelsGz) {
    seeds.push({
      format: "idx",
      name: "mnist:t10k-labels-idx1-ubyte.gz",
      files: { "data.idx.gz": labelsGz },
      fields: { "data.idx.gz": gzipFields(labelsGz) },
      meta: { rank: 1 },
    });
  }
  const imagesGz = await readShared(DATA, "mnist/t10k-images-idx3-ubyte.gz");
  const { gunzipSync } = await import("fflate");
  const pixels = imagesGz
    ? gunzipSync(imagesGz).subarray(16, 16 + 12 * 784)
    : new Uint8Array(12 * 784).map((_, i) => (i * 37) & 0xff);
  add("mnist: 12 t10k images (raw)", makeIdx([12, 28, 28], pixels), 3, false);
  add("mnist: 12 t10k images (gz)", makeIdx([12, 28, 28], pixels), 3, true);
  const labels = new Uint8Array(50).map((_, i) => i % 10);
  add("idx: 50 labels (raw)", makeIdx([50], labels), 1, false);
  return seeds;
}

function cifarRecords(count: number, seed: number): Uint8Array {
  const rng = new Rng(seed);
  const out = new Uint8Array(count * 3073);
  for (let r = 0; r < count; r++) {
    out[r * 3073] = r % 10;
    // Smooth gradients with a little noise: compressible like real photographs.
    for (let p = 0; p < 3072; p++) out[r * 3073 + 1 + p] = (p % 32) * 6 + rng.int(8) + r;
  }
  return out;
}

function cifarSeeds(): Seed[] {
  const batch = cifarRecords(4, 1);
  const names = [1, 2, 3, 4, 5].map((n) => `data_batch_${n}.bin`).concat("test_batch.bin");
  const tar = createTar(
    names.map((name, i) => ({
      name: `cifar-10-batches-bin/${name}`,
      data: cifarRecords(i === 5 ? 3 : 5, 10 + i),
    })),
  );
  const tgz = gzipSync(tar, { level: 6, mtime: 0 });
  return [
    {
      format: "cifar",
      name: "cifar: 4 records",
      files: { "data_batch_1.bin": batch },
      fields: {
        "data_batch_1.bin": [0, 1, 2, 3].map((r) => ({
          offset: r * 3073,
          size: 1 as const,
          littleEndian: true,
          label: `label ${r}`,
        })),
      },
    },
    {
      format: "cifar-tgz",
      name: "cifar: 6 batches tar.gz",
      files: { "cifar-10-binary.tar.gz": tgz },
      fields: { "cifar-10-binary.tar.gz": gzipFields(tgz) },
      inner: tar,
    },
  ];
}

async function tokenizerSeeds(): Promise<Seed[]> {
  const seeds: Seed[] = [];
  const add = (name: string, config: unknown, vocabulary: string[] | null) => {
    const files: Record<string, Uint8Array> = { "config.json": strToU8(JSON.stringify(config)) };
    if (vocabulary) files["vocabulary.txt"] = strToU8(vocabulary.join("\n"));
    seeds.push({ format: "tokenizer", name, files });
  };
  const vectorizer = await readShared(SAMPLES, "vectorizer.keras");
  if (vectorizer) {
    const files = unzipSync(vectorizer);
    const config = JSON.parse(new TextDecoder().decode(files["config.json"]));
    const layer = config.config.layers.find((l: { class_name: string }) =>
      l.class_name === "TextVectorization"
    );
    const asset = Object.keys(files).find((k) => k.endsWith("vocabulary.txt"));
    if (layer && asset) {
      const vocabulary = new TextDecoder().decode(files[asset]).split("\n");
      add("sample: vectorizer.keras (first 300 tokens)", layer, vocabulary.slice(0, 300));
      add("sample: vectorizer.keras (full vocabulary)", layer, vocabulary);
    }
  }
  const csv = await readShared(DATA, "nusax-sentiment/indonesian/valid.csv");
  const texts = csv
    ? new TextDecoder().decode(csv).split("\n").slice(1, 80)
    : ["makanan enak sekali", "pelayanan buruk", "harga biasa saja"];
  const layers: [string, ConstructorParameters<typeof TextVectorization>[0]][] = [
    ["int seq 16", { maxTokens: 200, outputSequenceLength: 16 }],
    ["multi_hot padded", { maxTokens: 64, outputMode: "multi_hot", padToMaxTokens: true }],
    ["count bigrams", { maxTokens: 100, outputMode: "count", ngrams: 2 }],
    ["int character split", { split: "character", outputSequenceLength: 8, maxTokens: 50 }],
  ];
  for (const [name, options] of layers) {
    const layer = new TextVectorization(options);
    layer.adapt(texts);
    add(`adapted: ${name}`, { class_name: "TextVectorization", config: layer.getConfig() }, [
      ...layer.getVocabulary(),
    ]);
  }
  const inline = new TextVectorization({
    vocabulary: ["enak", "buruk", "biasa"],
    outputSequenceLength: 4,
  });
  add("inline vocabulary", inline.getConfig(), null);
  return seeds;
}

function predictSeeds(): Seed[] {
  // The engine models live in the runner; a seed names the model and holds a valid input.
  return ["dense", "cnn", "rnn"].map((model) => ({
    format: "predict" as const,
    name: `predict:${model}`,
    files: {},
    meta: { model },
  }));
}

async function cliSeeds(): Promise<Seed[]> {
  const model = denseModel();
  const rng = new Rng(5);
  const x = new Float32Array(2 * 8).map(() => rng.next() * 2 - 1);
  return [{
    format: "cli",
    name: "cli: predict/inspect on a dense .keras",
    files: {
      "model.keras": await kerasArchiveBytes(model.spec, { date: new Date(Date.UTC(2025, 0, 1)) }),
      "x.npy": writeNpy({ data: x, shape: [2, 8] }),
      "ids.npy": writeNpy({ data: new Int32Array([1, 2, 3, 4, 5, 6, 7, 8]), shape: [1, 8] }),
      "bad.npy": new TextEncoder().encode("not numpy"),
    },
  }];
}

function selfTestSeeds(): Seed[] {
  return SELF_TEST_FORMATS.map((format) => ({
    format,
    name: format,
    files: { "x.bin": new Uint8Array(1024) },
  }));
}

/** Builds the seeds of the requested formats (real files are skipped when absent). */
export async function buildSeeds(formats: readonly AnyFormat[]): Promise<Seed[]> {
  const want = new Set(formats);
  const seeds: Seed[] = [];
  if (want.has("keras") || want.has("h5") || want.has("weights-h5") || want.has("tfjs")) {
    const models = [denseModel(), cnnModel(), globalPoolModel(3, "max"), rnnModel()];
    seeds.push(...await modelSeeds(models), ...await sampleSeeds());
  }
  if (want.has("npy")) seeds.push(...npySeeds());
  if (want.has("csv")) seeds.push(...await csvSeeds());
  if (want.has("idx")) seeds.push(...await idxSeeds());
  if (want.has("cifar") || want.has("cifar-tgz")) seeds.push(...cifarSeeds());
  if (want.has("tokenizer")) seeds.push(...await tokenizerSeeds());
  if (want.has("predict")) seeds.push(...predictSeeds());
  if (want.has("cli")) seeds.push(...await cliSeeds());
  seeds.push(...selfTestSeeds());
  return seeds.filter((s) => want.has(s.format));
}
