import { expectGlobalPoolingMatchesTfjs } from "../../testing/cnn_cases.ts";
import { Rng } from "../../testing/random.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("GlobalAveragePooling2D matches TF.js (keepdims false and true), batch 1 and 17", async () => {
  await tfReady();
  expectGlobalPoolingMatchesTfjs(new Rng(771), "GlobalAveragePooling2D");
});
