import { expectMatchesTfjs, sequentialSpec } from "../../testing/cnn_cases.ts";
import { Rng } from "../../testing/random.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("AveragePooling2D matches TF.js: pool sizes × strides (incl. None) × valid/same, batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(601);
  for (const padding of ["valid", "same"]) {
    for (const pool_size of [[2, 2], [3, 3], [2, 3], 3]) {
      for (const strides of [null, [1, 1], [2, 1], 2]) {
        const spec = sequentialSpec([7, 9, 5], [{
          class_name: "AveragePooling2D",
          config: { pool_size, strides, padding },
        }]);
        const what = `AveragePooling2D ${padding} pool=${pool_size} s=${strides}`;
        expectMatchesTfjs(spec, [[1, 7, 9, 5], [17, 7, 9, 5]], rng, what);
      }
    }
  }
});

Deno.test("AveragePooling2D with unknown height/width runs any input size like TF.js", async () => {
  await tfReady();
  const rng = new Rng(602);
  const spec = sequentialSpec([null, null, 6], [{
    class_name: "AveragePooling2D",
    config: { pool_size: [3, 2], strides: [2, 2], padding: "same" },
  }]);
  expectMatchesTfjs(spec, [[2, 5, 7, 6], [1, 8, 3, 6]], rng, "dynamic H/W");
});
