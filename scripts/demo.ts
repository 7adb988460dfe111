/**
 * `deno task demo`: builds the seeds' CNN and text model with random weights, runs the same
 * inputs through TF.js (cpu backend, the Keras reference) and the scratchnet engine, and prints
 * both predictions and the largest difference.
 */
import { buildModel, type ModelSpec, Tensor } from "../packages/engine/mod.ts";
import { argmaxRows, maxAbsDiff, Rng } from "../packages/engine/testing/random.ts";
import {
  randomIdBatch,
  seedsCnnSpec,
  seedsTextSpec,
} from "../packages/engine/testing/seeds_models.ts";
import {
  tfjsModelFromSpec,
  tfjsPredict,
  tfReady,
} from "../packages/engine/testing/tfjs_reference.ts";

await tfReady();
const rng = new Rng(2026);

function compare(title: string, spec: ModelSpec, x: Tensor): void {
  const engine = buildModel(spec);
  const t0 = performance.now();
  const mine = engine.predict(x, { batchSize: 32 });
  const t1 = performance.now();
  const reference = tfjsPredict(tfjsModelFromSpec(spec), x.data, [...x.shape]);
  const t2 = performance.now();
  const classes = mine.shape[1];
  console.log(`\n${title}`);
  console.log(engine.summary());
  const show = Math.min(4, x.shape[0]);
  for (let i = 0; i < show; i++) {
    const row = (a: ArrayLike<number>) =>
      Array.from({ length: classes }, (_, j) => a[i * classes + j].toFixed(6)).join(" ");
    console.log(`  sample ${i}  engine [${row(mine.data)}]`);
    console.log(`            tfjs   [${row(reference)}]`);
  }
  const same = argmaxRows(mine.data, classes).every((v, i) =>
    v === argmaxRows(reference, classes)[i]
  );
  console.log(
    `  ${x.shape[0]} samples: max |Δp| = ${maxAbsDiff(mine.data, reference).toExponential(2)}, ` +
      `argmax identical: ${same}, engine ${(t1 - t0).toFixed(0)} ms, tfjs-cpu ${
        (t2 - t1).toFixed(0)
      } ms`,
  );
  engine.dispose();
}

compare(
  "Seeds CNN (3 × Conv2D-MaxPooling2D → Flatten → Dense softmax) on random 32×32×3 images",
  seedsCnnSpec(),
  new Tensor(rng.floats(64 * 32 * 32 * 3, 0, 1), [64, 32, 32, 3]),
);
compare(
  "Seeds text model (Embedding mask_zero → Bidirectional LSTM 64 → Dropout → Dense softmax), length 100",
  seedsTextSpec(),
  new Tensor(randomIdBatch(rng, 64, 100, 3000), [64, 100]),
);
