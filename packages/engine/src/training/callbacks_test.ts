import {
  buildModel,
  Callback,
  EarlyStopping,
  formatCheckpointPath,
  type Logs,
  type Model,
  ModelCheckpoint,
  ProgressBar,
  ReduceLROnPlateau,
  SGD,
  Tensor,
  TrainingConfigError,
  type WeightTensor,
} from "../../mod.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";

/** Overwrites the monitored value each epoch from a script (runs before the tested callback). */
class Script extends Callback {
  constructor(readonly key: string, readonly values: number[]) {
    super();
  }
  override onEpochEnd(epoch: number, logs: Logs): void {
    logs[this.key] = this.values[epoch];
  }
}

/** Records the weights at the end of every epoch. */
class Snapshots extends Callback {
  readonly weights: WeightTensor[][] = [];
  override onEpochEnd(): void {
    this.weights.push(this.model!.getWeights());
  }
}

function smallModel(): { model: Model; x: Tensor; y: Tensor } {
  const rng = new Rng(301);
  const config = {
    class_name: "Sequential",
    config: {
      name: "m",
      layers: [
        { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 3] } },
        { class_name: "Dense", config: { name: "d", units: 2, activation: "softmax" } },
      ],
    },
  };
  const model = buildModel({ config, weights: {} }, { initialize: { seed: 3 } });
  model.compile({
    optimizer: new SGD({ learningRate: 0.5 }),
    loss: "sparse_categorical_crossentropy",
  });
  const x = new Tensor(rng.floats(12 * 3), [12, 3]);
  const y = new Tensor(Float32Array.from({ length: 12 }, (_, i) => i % 2), [12]);
  return { model, x, y };
}

Deno.test("EarlyStopping: stops after `patience` epochs without improvement (scripted val_loss)", async () => {
  const { model, x, y } = smallModel();
  const es = new EarlyStopping({ monitor: "val_loss", patience: 2 });
  // Best at epoch 1 (0.5); epochs 2 and 3 do not improve → stop at epoch 3.
  const script = new Script("val_loss", [1.0, 0.5, 0.6, 0.55, 0.1, 0.1]);
  const h = await model.fit(x, y, { epochs: 6, callbacks: [script, es], verbose: 0 });
  if (h.epoch.join() !== "0,1,2,3") throw new Error(`epochs run: ${h.epoch}`);
  if (es.stoppedEpoch !== 3 || es.best !== 0.5 || es.bestEpoch !== 1) {
    throw new Error(`stopped ${es.stoppedEpoch}, best ${es.best} at ${es.bestEpoch}`);
  }
  // min_delta: an improvement smaller than min_delta does not count.
  const es2 = new EarlyStopping({ monitor: "val_loss", patience: 1, minDelta: 0.1 });
  const h2 = await model.fit(x, y, {
    epochs: 5,
    callbacks: [new Script("val_loss", [1.0, 0.95, 0.8, 0.75, 0.5]), es2],
    verbose: 0,
  });
  if (h2.epoch.join() !== "0,1") throw new Error(`min_delta epochs: ${h2.epoch}`);
  // mode max for accuracy-like names (auto).
  const es3 = new EarlyStopping({ monitor: "val_accuracy", patience: 1 });
  const h3 = await model.fit(x, y, {
    epochs: 5,
    callbacks: [new Script("val_accuracy", [0.5, 0.7, 0.6, 0.9, 0.9]), es3],
    verbose: 0,
  });
  if (h3.epoch.join() !== "0,1,2") throw new Error(`max-mode epochs: ${h3.epoch}`);
  model.dispose();
});

Deno.test("EarlyStopping restore_best_weights restores the best epoch's weights", async () => {
  const { model, x, y } = smallModel();
  const snaps = new Snapshots();
  const es = new EarlyStopping({ monitor: "val_loss", patience: 2, restoreBestWeights: true });
  await model.fit(x, y, {
    epochs: 10,
    callbacks: [new Script("val_loss", [0.9, 0.4, 0.7, 0.8, 0.2]), snaps, es],
    verbose: 0,
  });
  const final = model.getWeights();
  const best = snaps.weights[1];
  if (final.some((w, i) => maxAbsDiff(w.data, best[i].data) !== 0)) {
    throw new Error("weights are not those of epoch 1");
  }
  if (final.every((w, i) => maxAbsDiff(w.data, snaps.weights[3][i].data) === 0)) {
    throw new Error("training did not change the weights (test is vacuous)");
  }
  model.dispose();
});

Deno.test("ReduceLROnPlateau: factor, patience, cooldown, min_lr; logs learning_rate", async () => {
  const { model, x, y } = smallModel();
  const rlr = new ReduceLROnPlateau({ monitor: "val_loss", factor: 0.5, patience: 2, minLr: 0.1 });
  const h = await model.fit(x, y, {
    epochs: 9,
    callbacks: [new Script("val_loss", [1, 1, 1, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]), rlr],
    verbose: 0,
  });
  // Logged before each epoch's decision: lr 0.5 → 0.25 after epoch 2 → 0.125 after epoch 5 →
  // max(0.0625, min_lr) = 0.1 after epoch 7.
  const want = [0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125, 0.1];
  const got = h.history.learning_rate;
  if (maxAbsDiff(got, want.map(Math.fround)) > 1e-9) throw new Error(`learning_rate ${got}`);
  if (Math.abs(model.optimizer.learningRate - 0.1) > 1e-7) {
    throw new Error(`final lr ${model.optimizer.learningRate}`);
  }
  // cooldown: after a reduction, `cooldown` epochs pass before waiting again (Keras counts the
  // reducing epoch's successor as the first cooldown epoch).
  model.optimizer.learningRate = 1;
  const cool = new ReduceLROnPlateau({
    monitor: "val_loss",
    factor: 0.5,
    patience: 1,
    cooldown: 2,
  });
  const h2 = await model.fit(x, y, {
    epochs: 6,
    callbacks: [new Script("val_loss", [1, 1, 1, 1, 1, 1]), cool],
    verbose: 0,
  });
  if (h2.history.learning_rate.join() !== "1,1,0.5,0.5,0.25,0.25") {
    throw new Error(`cooldown: ${h2.history.learning_rate}`);
  }
  if (
    !(() => {
      try {
        new ReduceLROnPlateau({ factor: 1 });
      } catch (e) {
        return e instanceof TrainingConfigError;
      }
      return false;
    })()
  ) throw new Error("factor ≥ 1 must be refused");
  model.dispose();
});

Deno.test("ModelCheckpoint saves through the given function; save_best_only; path template", async () => {
  const { model, x, y } = smallModel();
  const writes: { path: string; weights: WeightTensor[] }[] = [];
  const save = async (m: Model, path: string) => {
    await Promise.resolve();
    writes.push({ path, weights: m.getWeights() });
  };
  const ckpt = new ModelCheckpoint(save, {
    filepath: "ckpt/e{epoch:02d}-{val_loss:.3f}.keras",
    monitor: "val_loss",
    saveBestOnly: true,
  });
  await model.fit(x, y, {
    epochs: 4,
    callbacks: [new Script("val_loss", [0.9, 1.2, 0.4567, 0.5]), ckpt],
    verbose: 0,
  });
  const paths = writes.map((w) => w.path).join(" ");
  if (paths !== "ckpt/e01-0.900.keras ckpt/e03-0.457.keras") throw new Error(paths);
  const all = new ModelCheckpoint(save, { filepath: "m.keras" });
  writes.length = 0;
  await model.fit(x, y, { epochs: 2, callbacks: [all], verbose: 0 });
  if (writes.length !== 2) throw new Error(`${writes.length} saves without save_best_only`);
  if (
    formatCheckpointPath("w-{epoch}-{loss:.2f}-{epoch:3d}", 7, { loss: 0.12345 }) !== "w-7-0.12-  7"
  ) {
    throw new Error("formatCheckpointPath");
  }
  model.dispose();
});

Deno.test("progress bar: silent when stderr is not a terminal; drawn on a terminal", async () => {
  const { model, x, y } = smallModel();
  const sink = (tty: boolean) => {
    const out: string[] = [];
    return { out, sink: { isTerminal: () => tty, write: (t: string) => void out.push(t) } };
  };
  const pipe = sink(false);
  await model.fit(x, y, { epochs: 2, batchSize: 4, progressSink: pipe.sink });
  if (pipe.out.length !== 0) throw new Error(`wrote to a pipe: ${pipe.out.join("")}`);
  const tty = sink(true);
  await model.fit(x, y, { epochs: 2, batchSize: 4, progressSink: tty.sink });
  const text = tty.out.join("");
  for (const s of ["Epoch 1/2", "Epoch 2/2", "3/3 [", "loss: "]) {
    if (!text.includes(s)) throw new Error(`progress lacks ${JSON.stringify(s)}: ${text}`);
  }
  const quiet = sink(true);
  await model.fit(x, y, { epochs: 1, verbose: 0, progressSink: quiet.sink });
  if (quiet.out.length) throw new Error("verbose 0 wrote");
  const lines = sink(false);
  await model.fit(x, y, { epochs: 2, verbose: 2, progressSink: lines.sink });
  if (lines.out.length !== 2 || !lines.out[1].startsWith("Epoch 2/2")) {
    throw new Error(`verbose 2: ${JSON.stringify(lines.out)}`);
  }
  if (new ProgressBar(null).active) throw new Error("a null sink must be inactive");
  model.dispose();
});
