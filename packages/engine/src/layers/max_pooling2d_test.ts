import { buildModel, InputShapeError, UnsupportedLayerError } from "../../mod.ts";
import { expectMatchesTfjs, sequentialSpec } from "../../testing/cnn_cases.ts";
import { Rng } from "../../testing/random.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("MaxPooling2D matches TF.js: pool sizes × strides (incl. None) × valid/same, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(501);
  for (const padding of ["valid", "same"]) {
    for (const pool_size of [[2, 2], [3, 3], [2, 3], 3]) {
      for (const strides of [null, [1, 1], [2, 1], 2]) {
        const spec = sequentialSpec([7, 9, 5], [{
          class_name: "MaxPooling2D",
          config: { pool_size, strides, padding },
        }]);
        const what = `MaxPooling2D ${padding} pool=${pool_size} s=${strides}`;
        expectMatchesTfjs(spec, [[1, 7, 9, 5], [17, 7, 9, 5]], rng, what);
      }
    }
  }
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
