/**
 * Untrusted files: zip bombs, lying size fields, escaping entry and shard paths, disagreeing
 * shard sizes, deep JSON, corrupted HDF5 attribute counts and configurable limits are refused
 * with typed errors before anything large is allocated.
 */
import assert from "node:assert/strict";
import { strToU8, unzipSync, zipSync } from "npm:fflate@0.8.2";
import {
  CorruptFileError,
  DEFAULT_IMPORT_LIMITS,
  FormatError,
  type ImportError,
  loadModel,
  loadModelSpec,
  ModelBuildError,
  OptionError,
  ResourceLimitError,
  SourceError,
} from "./mod.ts";
import { EngineError } from "../engine/mod.ts";
import { kerasArchiveBytes } from "./save_keras.ts";
import { cnnModel, denseModel } from "./testing/model_specs.ts";
import { writeLegacyH5, writeTfjs, writeTfjsFiles } from "./testing/writers.ts";
import { isUnsafeEntryName } from "./zip.ts";
import { isSafeShardPath } from "./read_tfjs.ts";

async function rejects<E extends ImportError>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => E,
  ...parts: string[]
): Promise<E> {
  let caught: unknown;
  try {
    await promise;
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof type, `expected ${type.name}, got ${caught}`);
  for (const p of parts) {
    assert.ok((caught as Error).message.includes(p), `"${(caught as Error).message}" lacks "${p}"`);
  }
  return caught as E;
}

const date = new Date(Date.UTC(2025, 0, 1));

Deno.test("a zip bomb is refused by ratio or size before it is inflated", async () => {
  const entries = unzipSync(await kerasArchiveBytes(denseModel().spec, { date }));
  const config = entries["config.json"];
  // 8 MiB of spaces after the JSON: valid JSON, deflating ~1000:1.
  const padded = new Uint8Array(config.length + (8 << 20)).fill(0x20);
  padded.set(config);
  const bomb = zipSync({ ...entries, "config.json": [padded, { level: 9 }] }, { level: 0 });
  assert.ok(bomb.length < 200_000, `the bomb should be small, is ${bomb.length}`);
  const e = await rejects(
    loadModelSpec(bomb, { name: "bomb.keras" }),
    ResourceLimitError,
    "bomb.keras",
    "config.json",
    "maxCompressionRatio",
  );
  assert.equal(e.limit, "maxCompressionRatio");
  await rejects(
    loadModelSpec(bomb, { limits: { maxCompressionRatio: 1e6, maxUncompressedBytes: 4 << 20 } }),
    ResourceLimitError,
    "maxUncompressedBytes",
  );
  // With both limits raised the same bytes load: the refusal was the limits, not corruption.
  const spec = await loadModelSpec(bomb, { limits: { maxCompressionRatio: 1e6 } });
  assert.equal(spec.config.class_name, "Sequential");
});

Deno.test("zip size fields and CRC-32 are checked against the data", async () => {
  const entries = unzipSync(await kerasArchiveBytes(denseModel().spec, { date }));
  const deflated = zipSync(entries, { level: 6 });
  const view = new DataView(deflated.buffer);
  const directory: number[] = [];
  for (let i = 0; i + 4 <= deflated.length; i++) {
    if (view.getUint32(i, true) === 0x02014b50) directory.push(i);
  }
  assert.equal(directory.length, 3);
  const withSize = (size: number) => {
    const bytes = deflated.slice();
    for (const at of directory) new DataView(bytes.buffer).setUint32(at + 24, size, true);
    return bytes;
  };
  await rejects(loadModelSpec(withSize(0x7fffffff)), ResourceLimitError);
  // Understated: fflate fills only the declared 10 bytes, which the CRC-32 then refuses.
  await rejects(loadModelSpec(withSize(10)), CorruptFileError, "CRC-32");
  // A flipped byte inside a stored entry keeps every size right; only the CRC sees it.
  const stored = zipSync(entries, { level: 0 });
  const key = new TextEncoder().encode('"class_name"');
  let at = -1;
  for (let i = 0; at < 0 && i + key.length <= stored.length; i++) {
    if (key.every((b, j) => stored[i + j] === b)) at = i + 1;
  }
  const flipped = stored.slice();
  flipped[at] = 0x62; // "class_name" → "blass_name": valid JSON, wrong model

  await rejects(loadModelSpec(flipped), CorruptFileError, "CRC-32");
});

Deno.test("archive entries that could escape the folder, and duplicates, are refused", async () => {
  const entries = unzipSync(await kerasArchiveBytes(denseModel().spec, { date }));
  for (const name of ["../config.json", "/etc/passwd", "assets/../../x", "..\\x", "C:/x", "a\0b"]) {
    assert.ok(isUnsafeEntryName(name), name);
    await rejects(
      loadModelSpec(zipSync({ ...entries, [name]: strToU8("x") }, { level: 0 })),
      FormatError,
      "escape the archive",
    );
  }
  for (const name of ["config.json", "assets/layers/x/vocabulary.txt", "a/..b/c", "..."]) {
    assert.ok(!isUnsafeEntryName(name), name);
  }
  // Two entries named config.json (a reader picking the other one would see another model).
  const zip = zipSync({ ...entries, "config.jsoN": strToU8("{}") }, { level: 0 });
  const name = new TextEncoder().encode("config.jsoN");
  for (let i = 0; i + name.length <= zip.length; i++) {
    if (name.every((b, j) => zip[i + j] === b)) zip[i + name.length - 1] = 0x6e; // → "config.json"
  }
  await rejects(loadModelSpec(zip), FormatError, "twice");
});

Deno.test("TF.js: shard sizes must match the manifest exactly", async () => {
  const tfjs = writeTfjs(denseModel().spec, "none", 300);
  const shards = [...tfjs.files.values()];
  const last = shards.length - 1;
  const longer = shards.map((s, i) => (i === last ? new Uint8Array([...s, 0]) : s));
  const shorter = shards.map((s, i) => (i === last ? s.slice(0, -1) : s));
  await rejects(loadModelSpec({ modelJson: tfjs.modelJson, shards: longer }), CorruptFileError);
  await rejects(loadModelSpec({ modelJson: tfjs.modelJson, shards: shorter }), CorruptFileError);
  const dir = await Deno.makeTempDir();
  try {
    const path = await writeTfjsFiles(tfjs, dir);
    await Deno.writeFile(`${dir}/${[...tfjs.files.keys()][last]}`, longer[last]);
    await rejects(loadModelSpec(path), CorruptFileError, "manifest");
    // A manifest listing one shard many times is stopped when the bytes exceed what it needs.
    const json = structuredClone(tfjs.modelJson) as { weightsManifest: { paths: string[] }[] };
    json.weightsManifest[0].paths = Array(50).fill(json.weightsManifest[0].paths[0]);
    await Deno.writeTextFile(path, JSON.stringify(json));
    await rejects(loadModelSpec(path), CorruptFileError, "larger than");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TF.js: shard paths must stay in the model's folder; counts and shapes are limited", async () => {
  const tfjs = writeTfjs(denseModel().spec);
  const hostile = [
    "../group1-shard1of1.bin",
    "/etc/passwd",
    "http://127.0.0.1:9/x.bin",
    "file:///etc/passwd",
    "%2e%2e/x.bin",
    "a/./b.bin",
    "..\\x.bin",
    "",
  ];
  for (const path of hostile) assert.ok(!isSafeShardPath(path), path);
  assert.ok(isSafeShardPath("group1-shard1of1.bin") && isSafeShardPath("weights/g1.bin"));
  const dir = await Deno.makeTempDir();
  try {
    const modelPath = await writeTfjsFiles(tfjs, dir);
    for (const path of hostile) {
      const json = structuredClone(tfjs.modelJson) as { weightsManifest: { paths: string[] }[] };
      json.weightsManifest[0].paths = [path];
      await Deno.writeTextFile(modelPath, JSON.stringify(json));
      await rejects(loadModelSpec(modelPath), FormatError, "paths[0]");
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const many = structuredClone(tfjs.modelJson) as {
    weightsManifest: { paths: string[]; weights: { shape: number[]; quantization?: unknown }[] }[];
  };
  many.weightsManifest[0].paths = Array.from({ length: 1001 }, (_, i) => `s${i}.bin`);
  await rejects(
    loadModelSpec({ modelJson: many, shards: [] }),
    ResourceLimitError,
    "maxShards",
  );
  const huge = structuredClone(tfjs.modelJson) as typeof many;
  huge.weightsManifest[0].weights[0].shape = [65536, 65536];
  await rejects(
    loadModelSpec({ modelJson: huge, shards: [] }),
    ResourceLimitError,
    "maxTensorBytes",
  );
  const quantized = structuredClone(tfjs.modelJson) as typeof many;
  quantized.weightsManifest[0].weights[0].quantization = { dtype: "uint8", scale: "INF", min: 0 };
  const infinite = JSON.stringify(quantized).replace('"INF"', "1e999");
  await rejects(
    loadModelSpec({ modelJson: infinite, shards: [...tfjs.files.values()] }),
    FormatError,
    "finite",
  );
});

Deno.test("JSON nested deeper than maxJsonDepth is refused, also as a cyclic object", async () => {
  const tfjs = writeTfjs(denseModel().spec);
  const text = JSON.stringify(tfjs.modelJson).replace(
    '"keras_version"',
    `"deep":${"[".repeat(5000)}${"]".repeat(5000)},"keras_version"`,
  );
  const shards = [...tfjs.files.values()];
  await rejects(loadModelSpec({ modelJson: text, shards }), ResourceLimitError, "maxJsonDepth");
  const cyclic: Record<string, unknown> = { ...tfjs.modelJson };
  cyclic.self = cyclic;
  await rejects(loadModelSpec({ modelJson: cyclic, shards }), ResourceLimitError, "depth");
  // The default leaves room for real configs (a Keras Functional config nests ~15 deep).
  assert.ok(DEFAULT_IMPORT_LIMITS.maxJsonDepth >= 64);
});

/** Sets the first dimension of the dataspace of every `weight_names` attribute (v1 messages). */
function inflateAttributeCount(bytes: Uint8Array, count: number): Uint8Array {
  const out = bytes.slice();
  const view = new DataView(out.buffer);
  const name = new TextEncoder().encode("weight_names\0");
  let patched = 0;
  for (let i = 8; i + name.length <= out.length; i++) {
    if (!name.every((b, j) => out[i + j] === b)) continue;
    const start = i - 8; // version 1 attribute header
    if (out[start] !== 1 || view.getUint16(start + 2, true) !== name.length) continue;
    const padded = (n: number) => Math.ceil(n / 8) * 8;
    const dataspace = i + padded(name.length) + padded(view.getUint16(start + 4, true));
    if (out[dataspace + 1] !== 1) continue; // one dimension
    const dims = dataspace + (out[dataspace] === 1 ? 8 : 4);
    view.setBigUint64(dims, BigInt(count), true);
    patched++;
  }
  assert.ok(patched > 0, "no weight_names attribute found");
  return out;
}

Deno.test("HDF5: an attribute claiming more values than its message holds is refused", async () => {
  const h5 = await writeLegacyH5(denseModel().spec, "keras2");
  const corrupted = inflateAttributeCount(h5, 1 << 20);
  const e = await rejects(
    loadModelSpec(corrupted, { name: "m.h5" }),
    CorruptFileError,
    "m.h5",
    "declares 1048576 values",
  );
  assert.ok(!/unexpected file structure/.test(e.message), e.message);
});

Deno.test("maxFileBytes and maxTensorBytes are honoured; non-files are refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/m.keras`;
    await Deno.writeFile(path, await kerasArchiveBytes(denseModel().spec, { date }));
    await rejects(
      loadModelSpec(path, { limits: { maxFileBytes: 1000 } }),
      ResourceLimitError,
      "maxFileBytes",
    );
    await rejects(
      loadModelSpec(path, { limits: { maxTensorBytes: 100 } }),
      ResourceLimitError,
      "maxTensorBytes",
      "layers/dense/vars/0",
    );
    await rejects(loadModelSpec(dir), SourceError, "not a regular file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("bad options are an OptionError", async () => {
  const bytes = await kerasArchiveBytes(denseModel().spec, { date });
  const bad: unknown[] = [
    { limits: { maxShards: -1 } },
    { limits: { maxJsonDepth: "9" } },
    { limits: { maxBombs: 1 } },
    { limits: 5 },
    { name: 5 },
    null,
  ];
  for (const options of bad) {
    await rejects(loadModelSpec(bytes, options as never), OptionError);
  }
  await rejects(loadModelSpec({ modelJson: {}, shards: "x" } as never), OptionError, "shards");
});

Deno.test("loadModel reports the engine refusing a config as ModelBuildError naming the file", async () => {
  const spec = cnnModel().spec;
  const layers = spec.config.config.layers as {
    class_name: string;
    config: Record<string, unknown>;
  }[];
  const conv = layers.find((l) => l.class_name === "Conv2D")!;
  conv.config = { ...conv.config, dilation_rate: [1e15, 1] };
  const e = await rejects(
    loadModel(await kerasArchiveBytes(spec, { date }), { name: "cnn.keras" }),
    ModelBuildError,
    "cnn.keras",
    "dilation_rate",
  );
  assert.ok(e.cause instanceof EngineError && e.engineError === e.cause);
});
