import {
  expectMatchesTfjs,
  expectPoolingGridMatchesTfjs,
  sequentialSpec,
} from "../../testing/cnn_cases.ts";
import { Rng } from "../../testing/random.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("AveragePooling2D matches TF.js: pool sizes × strides (incl. None) × valid/same, batch 1 and 17", async () => {
  await tfReady();
  expectPoolingGridMatchesTfjs(new Rng(601), "AveragePooling2D");
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
