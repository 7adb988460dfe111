/**
 * `deno task export-onnx`: a `.keras` file written by `saveKeras` becomes an ONNX file whose
 * outputs in onnxruntime-node equal the engine's; bad arguments and unexportable layers exit
 * non-zero with one line.
 */
import assert from "node:assert/strict";
import * as ort from "onnxruntime-node";
import { buildModel, Tensor } from "@scratchnet/engine";
import { saveKeras } from "@scratchnet/keras-importer";
import { seedsCnnSpec } from "../packages/engine/testing/seeds_models.ts";
import { maxAbsDiff, Rng } from "../packages/engine/testing/random.ts";
import { exportOnnxCommand } from "./export_onnx.ts";

Deno.test("export-onnx: a .keras file to an ONNX file ORT runs like the engine", async () => {
  const dir = await Deno.makeTempDir();
  const model = buildModel(seedsCnnSpec({ filters: [4], imageSize: 8, classes: 3, seed: 2 }));
  try {
    await saveKeras(model, `${dir}/m.keras`);
    assert.equal(await exportOnnxCommand([`${dir}/m.keras`, `${dir}/m.onnx`, "--opset", "18"]), 0);
    const session = await ort.InferenceSession.create(await Deno.readFile(`${dir}/m.onnx`));
    const x = new Tensor(new Rng(3).floats(2 * 8 * 8 * 3, 0, 1), [2, 8, 8, 3]);
    const got = await session.run({
      [session.inputNames[0]]: new ort.Tensor("float32", x.data as Float32Array, [...x.shape]),
    });
    const y = got[session.outputNames[0]].data as Float32Array;
    assert.ok(maxAbsDiff(y, model.predict(x).data) <= 1e-5);
    await session.release();
    assert.equal(await exportOnnxCommand([`${dir}/m.keras`]), 2);
    assert.equal(await exportOnnxCommand([`${dir}/absent.keras`, `${dir}/x.onnx`]), 1);
    assert.equal(await exportOnnxCommand([`${dir}/m.keras`, `${dir}/x.onnx`, "--opset", "3"]), 1);
  } finally {
    model.dispose();
    await Deno.remove(dir, { recursive: true });
  }
});
