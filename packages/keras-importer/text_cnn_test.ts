/**
 * The Keras text CNN end to end: Embedding(`mask_zero`) → Conv1D relu → GlobalMaxPooling1D →
 * Dense softmax, and its two-branch form (kernel sizes 3 and 5, concatenated), built in TF.js with
 * random weights, trained a few SGD steps by the engine and by TF.js (`tf.variableGrads`) side by
 * side, then the trained engine model written in every format, read back and run again.
 * (Untrained: every format vs TF.js is in `graph_tfjs_test.ts`, gradients in
 * `engine/src/training/graph_training_test.ts`.)
 */
import assert from "node:assert/strict";
import { buildModel, SGD, SUPPORTED_LAYER_CLASSES, Tensor } from "@scratchnet/engine";
import { tf, tfReady } from "../engine/testing/tfjs_reference.ts";
import {
  graphCase,
  keyedWeights,
  specFromTfjs,
  tfjsGraphGradients,
} from "../engine/testing/tfjs_graphs.ts";
import { relativeError } from "../engine/testing/gradient_check.ts";
import { maxAbsDiff, Rng } from "../engine/testing/random.ts";
import { loadModel, type ModelSource, readModelSpec } from "./load.ts";
import { kerasArchiveBytes } from "./save_keras.ts";
import { writeLegacyH5, writeTfjs } from "./testing/writers.ts";

const SPARSE = { name: "sparse_categorical_crossentropy" as const };
const LR = 0.5;
const STEPS = 4;

for (const name of ["text_cnn", "text_cnn_two_branch"]) {
  Deno.test(`${name}: ${STEPS} SGD steps, engine vs TF.js (loss, every gradient ≤ 1e-4 relative), then every format reloads the trained model`, async () => {
    await tfReady();
    const c = graphCase(name);
    const ref = c.build(31);
    const model = buildModel(specFromTfjs(ref));
    try {
      model.compile({ optimizer: new SGD({ learningRate: LR }), loss: SPARSE.name });
      const rng = new Rng(3100);
      const batch = 17;
      const [ids] = c.inputs(rng, batch);
      const y = Float32Array.from({ length: batch }, () => rng.int(0, c.classes));
      const weights = keyedWeights(ref).filter((w) => w.trainable);
      let worst = 0;
      const losses: number[] = [];
      for (let step = 0; step < STEPS; step++) {
        const want = tfjsGraphGradients(ref, [ids], y, SPARSE);
        const before = model.toSpec().weights;
        const snapshot = Object.fromEntries(
          Object.entries(before).map(([k, ws]) => [k, ws.map((w) => Float32Array.from(w.data))]),
        );
        const logs = model.trainOnBatch(new Tensor(ids.data, ids.shape), new Tensor(y, [batch]));
        const after = model.toSpec().weights;
        assert.ok(
          Math.abs(logs.loss - want.loss) <= 1e-5 * Math.max(1, want.loss),
          `step ${step}: loss ${logs.loss} vs TF.js ${want.loss}`,
        );
        losses.push(want.loss);
        for (const w of weights) {
          const got = Float32Array.from(
            snapshot[w.key][w.index],
            (v, j) => (v - after[w.key][w.index].data[j]) / LR,
          );
          const g = want.grads.get(`${w.key}#${w.index}`)!;
          const e = relativeError(got, g);
          assert.ok(e <= 1e-4, `step ${step} ${w.key}/${w.name}: relative error ${e}`);
          worst = Math.max(worst, e);
          // TF.js takes the same step, so both sides stay on one trajectory.
          const v = w.variable;
          v.write(tf.sub(v.read(), tf.mul(tf.tensor(g, v.shape as number[]), LR)));
        }
      }
      assert.ok(losses[STEPS - 1] < losses[0], `loss did not fall: ${losses.join(" → ")}`);
      console.log(
        `${name}: losses ${losses.map((l) => l.toFixed(4)).join(" → ")}, worst gradient ${
          worst.toExponential(2)
        }`,
      );

      // The trained model in every format, read back: same predictions.
      const probe = c.inputs(new Rng(77), 5)[0];
      const x = new Tensor(probe.data, probe.shape);
      const wantY = model.predict(x).data;
      const spec = await readModelSpec(
        await kerasArchiveBytes(model.toSpec()),
        {},
        new Set(SUPPORTED_LAYER_CLASSES),
      );
      const exported = writeTfjs(spec);
      const sources: [string, ModelSource][] = [
        [".keras", await kerasArchiveBytes(spec)],
        [".h5 (Keras 2)", await writeLegacyH5(spec, "keras2")],
        [".h5 (Keras 3 legacy)", await writeLegacyH5(spec, "keras3")],
        ["model.json", { modelJson: exported.modelJson, shards: [...exported.files.values()] }],
      ];
      for (const [label, source] of sources) {
        const { model: again } = await loadModel(source);
        try {
          const d = maxAbsDiff(again!.predict(x).data, wantY);
          assert.ok(d <= 1e-6, `${name} via ${label}: |Δ| ${d}`);
        } finally {
          again!.dispose();
        }
      }
    } finally {
      model.dispose();
      ref.dispose();
    }
  });
}
