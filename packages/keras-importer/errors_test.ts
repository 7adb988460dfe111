/**
 * Bad input gets a typed error: unsupported classes, missing weights, and truncated or
 * corrupted files of every format (never a crash or a hang).
 */
import assert from "node:assert/strict";
import { strToU8, unzipSync, zipSync } from "fflate";
import {
  CorruptFileError,
  FormatError,
  ImportError,
  loadModelSpec,
  MissingWeightError,
  SourceError,
  UnsupportedLayerError,
} from "./mod.ts";
import { readModelSpec } from "./load.ts";
import { kerasArchiveBytes } from "./save_keras.ts";
import { ALL_ENGINE_CLASSES, samplePath } from "./testing/helpers.ts";
import { cnnModel, denseModel, rnnModel } from "./testing/model_specs.ts";
import { writeLegacyH5, writeTfjs } from "./testing/writers.ts";
import type { KerasObject, ModelSpec } from "@scratchnet/engine";

const read = (source: Parameters<typeof readModelSpec>[0], options = {}) =>
  readModelSpec(source, options, ALL_ENGINE_CLASSES);

function withLayer(spec: ModelSpec, layer: KerasObject, at = 2): ModelSpec {
  const layers = [...(spec.config.config.layers as KerasObject[])];
  layers.splice(at, 0, layer);
  return { ...spec, config: { ...spec.config, config: { ...spec.config.config, layers } } };
}

async function rejectsWith<E extends ImportError>(
  promise: Promise<unknown>,
  type: new (...args: never[]) => E,
  check?: (e: E) => void,
): Promise<void> {
  await assert.rejects(promise, (e: unknown) => {
    assert.ok(
      e instanceof type,
      `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${e}`,
    );
    check?.(e as E);
    return true;
  });
}

Deno.test("Lambda layer → UnsupportedLayerError naming class and layer, in every format", async () => {
  const lambda: KerasObject = {
    module: "keras.layers",
    class_name: "Lambda",
    config: { name: "my_lambda", function: { class_name: "__lambda__", config: { value: "x" } } },
    registered_name: null,
  };
  const spec = withLayer(denseModel().spec, lambda);
  const tfjs = writeTfjs(spec);
  for (
    const source of [
      await kerasArchiveBytes(spec),
      await writeLegacyH5(spec, "keras3"),
      { modelJson: tfjs.modelJson, shards: [...tfjs.files.values()] },
    ]
  ) {
    await rejectsWith(read(source), UnsupportedLayerError, (e) => {
      assert.equal(e.className, "Lambda");
      assert.equal(e.layerName, "my_lambda");
      assert.match(e.message, /my_lambda/);
    });
  }
});

Deno.test("custom registered class and unknown class → UnsupportedLayerError", async () => {
  const custom: KerasObject = {
    module: "my_package.layers",
    class_name: "SneakyDense",
    config: { name: "sneaky_dense", units: 3 },
    registered_name: "my_package>SneakyDense",
  };
  await rejectsWith(
    read(await kerasArchiveBytes(withLayer(denseModel().spec, custom))),
    UnsupportedLayerError,
    (e) => {
      assert.equal(e.layerName, "sneaky_dense");
      assert.match(e.message, /custom object/);
    },
  );
  const unknown: KerasObject = { class_name: "Conv3D", config: { name: "conv3d_9" } };
  await rejectsWith(
    read(await writeLegacyH5(withLayer(denseModel().spec, unknown), "keras2")),
    UnsupportedLayerError,
    (e) => {
      assert.equal(e.className, "Conv3D");
      assert.equal(e.layerName, "conv3d_9");
    },
  );
});

Deno.test("Bidirectional wrapping a custom layer is refused by the inner layer's name", async () => {
  const { spec } = rnnModel();
  const layers = structuredClone(spec.config.config.layers) as KerasObject[];
  const bi = layers.find((l) => l.class_name === "Bidirectional")!;
  (bi.config.layer as KerasObject).module = "evil";
  const bad = { ...spec, config: { ...spec.config, config: { ...spec.config.config, layers } } };
  await rejectsWith(read(await writeLegacyH5(bad, "keras3")), UnsupportedLayerError, (e) => {
    assert.equal(e.layerName, "forward_lstm");
  });
});

Deno.test("a subclassed (custom) model class is refused", async () => {
  const { spec } = denseModel();
  const custom = { ...spec, config: { ...spec.config, class_name: "MyModel", module: "__main__" } };
  await rejectsWith(read(await writeLegacyH5(custom, "keras3")), UnsupportedLayerError, (e) => {
    assert.equal(e.className, "MyModel");
  });
});

Deno.test("the public loader refuses classes the engine has not registered", async () => {
  const engineClasses = new Set((await import("@scratchnet/engine")).SUPPORTED_LAYER_CLASSES);
  const missing = [...ALL_ENGINE_CLASSES].filter((c) => !engineClasses.has(c));
  const spec = await read(samplePath("lstm_2_layer.keras"));
  if (missing.length === 0) {
    assert.ok(spec.weights.lstm_23, "engine complete: nothing to refuse");
    return;
  }
  const layerClasses = new Set(
    (spec.config.config.layers as KerasObject[]).map((l) => l.class_name),
  );
  const blocked = missing.filter((c) => layerClasses.has(c));
  if (blocked.length > 0) {
    await rejectsWith(loadModelSpec(samplePath("lstm_2_layer.keras")), UnsupportedLayerError);
  }
});

Deno.test("a missing weight → MissingWeightError naming layer and path", async () => {
  const { spec } = cnnModel();
  const weights = { ...spec.weights, conv2d_1: spec.weights.conv2d_1.slice(0, 1) };
  // Write a .keras whose conv2d_1 lacks its bias by declaring use_bias=false on save only.
  const layers = structuredClone(spec.config.config.layers) as KerasObject[];
  layers.find((l) => l.config.name === "conv2d_1")!.config.use_bias = false;
  const archive = unzipSync(
    await kerasArchiveBytes({
      ...spec,
      weights,
      config: { ...spec.config, config: { ...spec.config.config, layers } },
    }),
  );
  archive["config.json"] = strToU8(JSON.stringify(spec.config));
  await rejectsWith(read(zipSync(archive, { level: 0 })), MissingWeightError, (e) => {
    assert.equal(e.layerName, "conv2d_1");
    assert.match(e.path, /layers\/conv2d_1\/vars/);
  });
  // TF.js shard list shorter than the manifest.
  const tfjs = writeTfjs(spec, "none", 64);
  await rejectsWith(
    read({ modelJson: tfjs.modelJson, shards: [...tfjs.files.values()].slice(1) }),
    MissingWeightError,
  );
});

Deno.test("unrecognised bytes, bare config JSON, weights-only HDF5 without config, missing file", async () => {
  await rejectsWith(read(new Uint8Array([1, 2, 3, 4, 5])), FormatError);
  await rejectsWith(read(strToU8(JSON.stringify(denseModel().spec.config))), FormatError);
  const { writeKeras3WeightsH5 } = await import("./testing/writers.ts");
  await rejectsWith(read(await writeKeras3WeightsH5(denseModel().spec)), FormatError, (e) => {
    assert.match(e.message, /config/);
  });
  await rejectsWith(read("/nonexistent/model.keras"), SourceError);
  await rejectsWith(read(strToU8(`{"modelTopology": {}, "weightsManifest": []`)), FormatError);
});

/** Deterministic corruptions of one file: truncations and byte overwrites. */
function corruptions(bytes: Uint8Array, seed: number): { label: string; bytes: Uint8Array }[] {
  let s = seed;
  const next = () => (s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 4294967296;
  const out: { label: string; bytes: Uint8Array }[] = [];
  for (const fraction of [0, 0.001, 0.01, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99, 0.999]) {
    const n = Math.floor(bytes.length * fraction);
    out.push({ label: `truncated to ${n} bytes`, bytes: bytes.slice(0, Math.max(n, 1)) });
  }
  for (let i = 0; i < 40; i++) {
    const b = bytes.slice();
    const region = i % 2 === 0 ? Math.min(b.length, 4096) : b.length;
    const count = 1 + Math.floor(next() * 16);
    for (let j = 0; j < count; j++) b[Math.floor(next() * region)] = Math.floor(next() * 256);
    out.push({ label: `corruption #${i}`, bytes: b });
  }
  return out;
}

async function expectTypedOrValid(label: string, attempt: () => Promise<unknown>) {
  try {
    await attempt();
    // Some corruptions hit padding or weight values and still decode; that is fine.
  } catch (e) {
    assert.ok(
      e instanceof ImportError,
      `${label}: untyped ${(e as Error)?.constructor?.name}: ${e}`,
    );
  }
}

Deno.test("truncated or corrupted .keras, .h5 and TF.js files → typed ImportError", async () => {
  const sources: [string, Uint8Array][] = [
    ["lstm_bidirectional.keras", await Deno.readFile(samplePath("lstm_bidirectional.keras"))],
    ["best_rnn_model.h5", await Deno.readFile(samplePath("best_rnn_model.h5"))],
    ["test3_model_2.h5", await Deno.readFile(samplePath("test3_model_2.h5"))],
    ["cnn.keras (saveKeras)", await kerasArchiveBytes(cnnModel().spec)],
  ];
  let typed = 0;
  for (const [name, bytes] of sources) {
    for (const { label, bytes: bad } of corruptions(bytes, name.length)) {
      await expectTypedOrValid(`${name} ${label}`, () =>
        read(bad, { name }).catch((e) => {
          typed++;
          throw e;
        }));
    }
  }
  // Truncations alone guarantee many failures; make sure they were exercised.
  assert.ok(typed >= 30, `only ${typed} corruptions were rejected`);

  // The .keras archive's inner HDF5 corrupted while the zip stays valid.
  const archive = unzipSync(await Deno.readFile(samplePath("lstm_2_layer.keras")));
  for (const { label, bytes: bad } of corruptions(archive["model.weights.h5"], 7)) {
    await expectTypedOrValid(
      `inner h5 ${label}`,
      () => read(zipSync({ ...archive, "model.weights.h5": bad }, { level: 0 })),
    );
  }

  const tfjs = writeTfjs(rnnModel().spec, "uint8", 200);
  const json = strToU8(JSON.stringify(tfjs.modelJson));
  for (const { label, bytes: bad } of corruptions(json, 11)) {
    await expectTypedOrValid(
      `model.json ${label}`,
      () => read({ modelJson: bad, shards: [...tfjs.files.values()] }),
    );
  }
  const shards = [...tfjs.files.values()];
  for (let i = 0; i < shards.length; i++) {
    const truncated = shards.map((s, j) => (j === i ? s.slice(0, s.length >> 1) : s));
    await rejectsWith(read({ modelJson: tfjs.modelJson, shards: truncated }), CorruptFileError);
  }
});
