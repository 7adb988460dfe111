/**
 * Training a model with several outputs (Keras `compile(loss=[…], loss_weights=[…])`): the total
 * loss is Σ weightᵢ · lossᵢ (each output's own mean), logged with `<output>_loss` and
 * `<output>_<metric>`; one SGD(learning rate 1) step's weight changes equal TF.js's
 * `tf.variableGrads` of that total (≤ 1e-4 relative); losses by output name and `fit` on two
 * threads give the same.
 */
import { buildModel, SGD, Tensor } from "../../mod.ts";
import { relativeError } from "../../testing/gradient_check.ts";
import { Rng } from "../../testing/random.ts";
import {
  applyGraph,
  keyedWeights,
  specFromTfjs,
  toTfInputs,
  twoInTwoOut,
} from "../../testing/tfjs_graphs.ts";
import { tf, tfReady } from "../../testing/tfjs_reference.ts";
import { expectThrows } from "../../testing/assert.ts";
import { TrainingConfigError } from "./errors.ts";

const TOL = 1e-4;
const LOSS_WEIGHTS = [1, 0.5];

function data(rng: Rng, batch: number) {
  const features = { data: rng.floats(batch * 6), shape: [batch, 6] };
  const extra = { data: rng.floats(batch * 4), shape: [batch, 4] };
  const classes = Float32Array.from({ length: batch }, () => rng.int(0, 3));
  const targets = rng.floats(batch * 2);
  return { xs: [features, extra], classes, targets, batch };
}

Deno.test("two outputs, two losses with loss weights: one step's gradients and logs equal TF.js's", async () => {
  await tfReady();
  const ref = twoInTwoOut(31);
  const d = data(new Rng(310), 7);
  // TF.js: total = CE(class_out) + 0.5 · MSE(reg_out), each averaged over its rows.
  const trainable = keyedWeights(ref).filter((w) => w.trainable);
  const vars = trainable.map((w) => w.variable.read() as tf.Variable);
  const inputs = toTfInputs(d.xs);
  const parts: number[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const { outputs } = applyGraph(ref, inputs, { training: true });
    const ce = tf.mean(
      tf.neg(
        tf.sum(
          tf.mul(
            tf.oneHot(tf.tensor1d(d.classes, "int32"), 3),
            tf.log(tf.clipByValue(outputs[0], 1e-7, 1 - 1e-7)),
          ),
          -1,
        ),
      ),
    ) as tf.Scalar;
    const mse = tf.mean(
      tf.square(tf.sub(outputs[1], tf.tensor(d.targets, [d.batch, 2]))),
    ) as tf.Scalar;
    parts.push(ce.dataSync()[0], mse.dataSync()[0]);
    return tf.add(tf.mul(ce, LOSS_WEIGHTS[0]), tf.mul(mse, LOSS_WEIGHTS[1])) as tf.Scalar;
  }, vars);
  const want = new Map(
    trainable.map((
      w,
      i,
    ) => [`${w.key}#${w.index}`, grads[vars[i].name].dataSync() as Float32Array]),
  );

  const spec = specFromTfjs(ref);
  const model = buildModel(spec);
  model.compile({
    optimizer: new SGD({ learningRate: 1 }),
    loss: ["sparse_categorical_crossentropy", "mse"],
    lossWeights: LOSS_WEIGHTS,
    metrics: [["accuracy"], ["mae"]],
  });
  const before = model.getWeights();
  const logs = model.trainOnBatch(
    d.xs.map((x) => new Tensor(x.data, x.shape)),
    [new Tensor(d.classes, [d.batch]), new Tensor(d.targets, [d.batch, 2])],
  );
  const after = model.getWeights();
  const total = value.dataSync()[0];
  if (Math.abs(logs.loss - total) > TOL * Math.max(1, total)) {
    throw new Error(`loss ${logs.loss} vs TF.js ${total}`);
  }
  if (
    Math.abs(logs.class_out_loss - parts[0]) > TOL || Math.abs(logs.reg_out_loss - parts[1]) > TOL
  ) {
    throw new Error(`per-output losses ${logs.class_out_loss}, ${logs.reg_out_loss} vs ${parts}`);
  }
  for (const key of ["class_out_accuracy", "reg_out_mae"]) {
    if (!(key in logs)) throw new Error(`logs lack ${key}: ${Object.keys(logs)}`);
  }
  // Weight keys are "<layer>/<weight>" in model order; TF.js keys "<layer>#<index>".
  let worst = 0;
  const index = new Map<string, number>();
  before.forEach((w, i) => {
    const layer = w.name.slice(0, w.name.lastIndexOf("/"));
    const k = index.get(layer) ?? 0;
    index.set(layer, k + 1);
    const ref = want.get(`${layer}#${k}`);
    if (!ref) throw new Error(`no TF.js gradient for ${w.name}`);
    const got = Float32Array.from(w.data, (v, j) => v - after[i].data[j]);
    worst = Math.max(worst, relativeError(got, ref));
  });
  if (worst > TOL) throw new Error(`worst relative gradient error ${worst}`);
  model.dispose();
  inputs.forEach((t) => t.dispose());
  value.dispose();
  Object.values(grads).forEach((g) => g.dispose());
});

Deno.test("two outputs: losses by output name equal losses by position; fit on 2 threads equals 1", async () => {
  const ref = twoInTwoOut(32);
  const spec = specFromTfjs(ref);
  const d = data(new Rng(320), 64);
  const xs = d.xs.map((x) => new Tensor(x.data, x.shape));
  const ys = [new Tensor(d.classes, [d.batch]), new Tensor(d.targets, [d.batch, 2])];
  const run = async (byName: boolean, workers: 1 | 2) => {
    const model = buildModel(spec);
    model.compile({
      optimizer: new SGD({ learningRate: 0.1 }),
      loss: byName
        ? { reg_out: "mse", class_out: "sparse_categorical_crossentropy" }
        : ["sparse_categorical_crossentropy", "mse"],
      lossWeights: byName ? { class_out: 1, reg_out: 0.5 } : LOSS_WEIGHTS,
      workers,
    });
    const h = await model.fit(xs, byName ? { class_out: ys[0], reg_out: ys[1] } : ys, {
      epochs: 2,
      batchSize: 32,
      verbose: 0,
      shuffle: false,
    });
    const w = model.getWeights();
    model.dispose();
    return { h, w };
  };
  const a = await run(false, 1), b = await run(true, 1), c = await run(false, 2);
  for (const other of [b, c]) {
    for (const key of ["loss", "class_out_loss", "reg_out_loss"]) {
      const x = a.h.history[key], y = other.h.history[key];
      if (!x || !y || x.some((v, i) => Math.abs(v - y[i]) > 1e-5)) {
        throw new Error(`${key}: ${x} vs ${y}`);
      }
    }
    a.w.forEach((w, i) => {
      if (relativeError(w.data, other.w[i].data) > 1e-5) {
        throw new Error(`weights ${w.name} differ`);
      }
    });
  }
  // A loss list of the wrong length, or an unknown output name, is refused by name.
  const model = buildModel(spec);
  model.compile({ loss: ["mse"] });
  expectThrows(() => model.trainOnBatch(xs, ys), TrainingConfigError, "2 outputs");
  model.compile({ loss: { nope: "mse", class_out: "mse" } });
  expectThrows(() => model.trainOnBatch(xs, ys), TrainingConfigError, "nope");
  model.dispose();
});
