import { buildModel, InputShapeError, UnsupportedLayerError } from "../../mod.ts";
import { expectPoolingGridMatchesTfjs, sequentialSpec } from "../../testing/cnn_cases.ts";
import { Rng } from "../../testing/random.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("MaxPooling2D matches TF.js: pool sizes × strides (incl. None) × valid/same, batch 1 and 17", async () => {
  await tfReady();
  expectPoolingGridMatchesTfjs(new Rng(501), "MaxPooling2D");
});

Deno.test("MaxPooling2D refuses channels_first and windows larger than a valid input", () => {
  let err: unknown;
  try {
    buildModel(sequentialSpec([6, 6, 2], [{
      class_name: "MaxPooling2D",
      config: { name: "pool_cf", data_format: "channels_first" },
    }]));
  } catch (e) {
    err = e;
  }
  if (!(err instanceof UnsupportedLayerError) || !/pool_cf.*channels_first/.test(err.message)) {
    throw new Error(`expected UnsupportedLayerError naming pool_cf, got ${err}`);
  }
  err = undefined;
  try {
    buildModel(sequentialSpec([2, 6, 2], [{
      class_name: "MaxPooling2D",
      config: { name: "pool_big", pool_size: [3, 3] },
    }]));
  } catch (e) {
    err = e;
  }
  if (!(err instanceof InputShapeError) || !/pool_big.*\(None, 2, 6, 2\)/.test(err.message)) {
    throw new Error(`expected InputShapeError naming pool_big and the shape, got ${err}`);
  }
});
