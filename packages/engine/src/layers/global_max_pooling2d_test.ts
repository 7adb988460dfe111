import { expectMatchesTfjs, sequentialSpec } from "../../testing/cnn_cases.ts";
import { Rng } from "../../testing/random.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("GlobalMaxPooling2D matches TF.js (keepdims false and true), batch 1 and 17", async () => {
  await tfReady();
  const rng = new Rng(371);
  for (const input of [[7, 9, 5], [1, 1, 3], [4, 6, 16]]) {
    for (const keepdims of [false, true]) {
      const spec = sequentialSpec(input, [{
        class_name: "GlobalMaxPooling2D",
        config: { keepdims },
      }]);
      // TF.js has no keepdims: the values are equal; the engine's shape keeps 1×1 when asked.
      const c = input[2];
      const expectShape = (s: number[]) => keepdims ? [s[0], 1, 1, c] : [s[0], c];
      const shapes = [[1, ...input], [17, ...input]];
      expectMatchesTfjs(spec, shapes, rng, `GlobalMaxPooling2D ${input} keepdims=${keepdims}`, {
        expectShape,
      });
    }
  }
});
