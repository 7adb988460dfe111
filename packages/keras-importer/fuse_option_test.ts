/**
 * `loadModel(source, { fuse })`: a Conv–BN–ReLU model read from a `.keras` file predicts the same
 * (within 1e-5) with inference-time fusion (default) and without; a non-boolean is refused.
 */
import assert from "node:assert/strict";
import { buildModel, Tensor } from "@scratchnet/engine";
import { kerasArchiveBytes, loadModel, OptionError } from "./mod.ts";

const layer = (class_name: string, config: Record<string, unknown>) => ({ class_name, config });

Deno.test("loadModel fuse: fused and unfused predictions of a Conv–BN–ReLU .keras model agree within 1e-5; fuse must be a boolean", async () => {
  const source = buildModel({
    config: {
      class_name: "Sequential",
      config: {
        name: "cbr",
        layers: [
          layer("InputLayer", { name: "image", batch_shape: [null, 7, 7, 2] }),
          layer("Conv2D", { name: "conv", filters: 4, kernel_size: 3, groups: 2 }),
          layer("BatchNormalization", { name: "bn" }),
          layer("ReLU", { name: "relu" }),
          layer("Flatten", { name: "flat" }),
        ],
      },
    },
    weights: {},
  }, { initialize: { seed: 5 } });
  // Statistics away from the identity, so that folding them matters.
  source.setWeights(
    source.getWeights().map((w) =>
      w.name.startsWith("bn/") ? { ...w, data: w.data.map((_, i) => 0.5 + 0.25 * i) } : w
    ),
  );
  const bytes = await kerasArchiveBytes(source);
  const fused = (await loadModel(bytes)).model!;
  const plain = (await loadModel(bytes, { fuse: false })).model!;
  const x = new Tensor(new Float32Array(3 * 7 * 7 * 2).map((_, i) => Math.sin(i)), [3, 7, 7, 2]);
  const a = fused.predict(x).data, b = plain.predict(x).data, want = source.predict(x).data;
  for (let i = 0; i < a.length; i++) {
    assert.ok(Math.abs(a[i] - b[i]) <= 1e-5 && Math.abs(a[i] - want[i]) <= 1e-5, `index ${i}`);
  }
  await assert.rejects(
    () => loadModel(bytes, { fuse: "no" as unknown as boolean }),
    (e: Error) => e instanceof OptionError && /options\.fuse/.test(e.message),
  );
  for (const m of [source, fused, plain]) m.dispose();
});
