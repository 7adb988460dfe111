import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { Tensor } from "@scratchnet/engine";
import { loadModel } from "@scratchnet/keras-importer";
import { UsageError } from "./errors.ts";
import { createProgress } from "./progress.ts";
import { epochsFor, filterClasses, perClassSubset } from "./study_common.ts";
import {
  parseTransferArgs,
  runTransfer,
  samplesSaved,
  transferConclusion,
  type TransferResults,
  type TransferRow,
} from "./transfer.ts";

Deno.test("transfer options: defaults per mode, sorted counts, bad values name their flag", () => {
  const full = parseTransferArgs(["transfer"]);
  assert.deepEqual(full.samples, [10, 50, 100, 500]);
  assert.equal(full.source, "fashion-mnist");
  assert.equal(full.fineTuneLearningRate, 1e-4);
  assert.equal(full.testSize, null);
  assert.equal(full.out, "experiments/transfer");
  const quick = parseTransferArgs(["transfer", "--quick", "--samples", "all,20,5"]);
  assert.deepEqual(quick.samples, [5, 20, null]);
  assert.equal(quick.testSize, 256);
  assert.equal(parseTransferArgs(["transfer", "--fine-tune-epochs", "0"]).fineTuneEpochs, 0);
  assert.equal(parseTransferArgs(["transfer", "--source", "digits"]).source, "digits");
  const cases: [string[], string][] = [
    [["transfer", "--samples", "0"], "--samples"],
    [["transfer", "--samples", "5,x"], "--samples"],
    [["transfer", "--samples", "5,5"], "--samples"],
    [["transfer", "--source", "cifar10"], "--source"],
    [["transfer", "--fine-tune-learning-rate", "-1"], "--fine-tune-learning-rate"],
    [["transfer", "--epochs", "0"], "--epochs"],
    [["transfer", "--language", "javanese"], "--language"],
    [["transfer", "--quick=1"], "--quick"],
    [["transfer", "autoencoder"], "family"],
  ];
  for (const [argv, flag] of cases) {
    assert.throws(
      () => parseTransferArgs(argv),
      (e: unknown) => e instanceof UsageError && e.argument === flag,
      argv.join(" "),
    );
  }
});

Deno.test("per-class subsets: k of each class, nested across k; class filters relabel", () => {
  const y = Int32Array.from({ length: 60 }, (_, i) => i % 3);
  const split = { x: new Tensor(Float32Array.from(y, (_, i) => i), [60, 1]), y };
  const count = (s: { y: Int32Array }) => [0, 1, 2].map((c) => s.y.filter((v) => v === c).length);
  const small = perClassSubset(split, 2, 3, 7), big = perClassSubset(split, 5, 3, 7);
  assert.deepEqual(count(small), [2, 2, 2]);
  assert.deepEqual(count(big), [5, 5, 5]);
  const ids = new Set(big.x.data);
  assert.ok([...small.x.data].every((v) => ids.has(v)), "the smaller draw is inside the larger");
  assert.equal(perClassSubset(split, null, 3, 7), split);
  assert.deepEqual(count(perClassSubset(split, 100, 3, 7)), [20, 20, 20]);
  const upper = filterClasses(split, (l) => l >= 1, (l) => l - 1);
  assert.deepEqual(count(upper), [20, 20, 0]);
  assert.deepEqual([...upper.x.data.subarray(0, 2)], [1, 2]);
  assert.equal(epochsFor(100, 32, 10, 200), 50);
  assert.equal(epochsFor(5000, 32, 10, 200), 10);
});

function row(labelled: number, transfer: number, scratch: number): TransferRow {
  return {
    perClass: labelled / 10,
    labelled,
    transfer: { macroF1: transfer } as TransferRow["transfer"],
    scratch: { macroF1: scratch } as TransferRow["scratch"],
  };
}

Deno.test("samples saved: the smallest count where scratch reaches transfer's first F1", () => {
  const reached = samplesSaved([row(100, 0.8, 0.5), row(500, 0.9, 0.79), row(1000, 0.95, 0.8)]);
  assert.deepEqual(reached, {
    target: 0.8,
    transferLabelled: 100,
    scratchLabelled: 1000,
    saved: 900,
  });
  const not = samplesSaved([row(100, 0.8, 0.5), row(500, 0.9, 0.7)]);
  assert.equal(not.scratchLabelled, null);
  assert.equal(not.saved, null);
  assert.equal(samplesSaved([row(100, 0.6, 0.7)]).saved, 0);
});

Deno.test("transfer conclusion: saved labels, none saved, not reached", () => {
  const results = (rows: TransferRow[]) =>
    ({
      source: { name: "src", train: 10 },
      settings: { fineTuneLearningRate: 1e-4, quick: false },
      pretrained: { sourceTestMacroF1: 0.8, reference: { maxAbsDiff: 0, agreement: 1 } },
      rows: rows.map((r) => ({
        ...r,
        transfer: {
          ...r.transfer,
          frozenMacroF1: 0,
          fineTuneEpochs: 0,
          reference: { maxAbsDiff: 1e-7, agreement: 1 },
        },
        scratch: { ...r.scratch, reference: { maxAbsDiff: 2e-7, agreement: 1 } },
      })),
      samplesSaved: samplesSaved(rows),
    }) as unknown as TransferResults;
  const line = (rows: TransferRow[]) =>
    transferConclusion(results(rows)).find((l) => l.startsWith("Samples saved"))!;
  assert.match(
    line([row(100, 0.8, 0.5), row(500, 0.9, 0.85)]),
    /with \*\*500\*\* labelled.*400 labels, 5\.0× fewer/,
  );
  assert.match(line([row(100, 0.6, 0.7)]), /none — scratch already reached/);
  assert.match(line([row(100, 0.8, 0.5), row(500, 0.9, 0.7)]), /\*\*not reached\*\* up to 500/);
  assert.match(transferConclusion(results([row(100, 0.8, 0.5)])).at(-1)!, /max \|Δp\| 2\.00e-7/);
});

/** Fashion-MNIST comes from Debian's `dataset-fashion-mnist`; without it the digits pair runs. */
const SOURCE = existsSync("/usr/share/datasets/fashion-mnist") ? "fashion-mnist" : "digits";

Deno.test(`transfer --quick end to end (${SOURCE}): frozen base kept, top block tuned, engine = TF.js`, async () => {
  const out = await Deno.makeTempDir({ prefix: "transfer_test_" });
  try {
    const o = parseTransferArgs([
      "transfer",
      "--quick",
      "--source",
      SOURCE,
      "--samples",
      "5,20",
      "--out",
      out,
      "--progress",
      "none",
    ]);
    const r = await runTransfer(o, createProgress("none"));
    const k = SOURCE === "digits" ? 5 : 10; // classes of the target
    assert.deepEqual(r.rows.map((x) => [x.perClass, x.labelled]), [[5, 5 * k], [20, 20 * k]]);
    for (const x of r.rows) {
      for (const f1 of [x.transfer.frozenMacroF1, x.transfer.macroF1, x.scratch.macroF1]) {
        assert.ok(Number.isFinite(f1) && f1 >= 0 && f1 <= 1, `F1 ${f1}`);
      }
      // Scratch trains as many epochs as both transfer phases; each curve has one value each.
      assert.equal(x.scratch.epochs, x.transfer.headEpochs + x.transfer.fineTuneEpochs);
      assert.equal(x.transfer.history.loss.length, x.scratch.epochs);
      assert.equal(x.scratch.history.val_loss.length, x.scratch.epochs);
      assert.ok([...x.transfer.history.loss, ...x.scratch.history.loss].every(Number.isFinite));
    }
    assert.ok(r.pretrained.sourceTestMacroF1 > 0.2, "pretraining learned something");
    const checks = [
      r.pretrained.reference,
      ...r.rows.flatMap((x) => [x.transfer.reference, x.scratch.reference]),
    ];
    for (const c of checks) {
      assert.ok(c.maxAbsDiff <= 1e-5, `${c.modelFile} max |Δp| ${c.maxAbsDiff}`);
      assert.equal(c.agreement, 1, c.modelFile);
      assert.ok(existsSync(join(out, c.modelFile)), c.modelFile);
    }
    // The base stayed frozen through the head phase, and only the top block moved afterwards.
    const pre = (await loadModel(join(out, r.pretrained.modelFile))).spec.weights;
    const tuned = (await loadModel(join(out, "models/transfer_5.keras"))).spec.weights;
    assert.deepEqual(tuned.conv2d_0[0].data, pre.conv2d_0[0].data);
    assert.deepEqual(tuned.conv2d_0[1].data, pre.conv2d_0[1].data);
    assert.notDeepEqual(tuned.conv2d_1[0].data, pre.conv2d_1[0].data);
    const written = JSON.parse(
      await Deno.readTextFile(join(out, "results.json")),
    ) as TransferResults;
    assert.deepEqual(written.samplesSaved, JSON.parse(JSON.stringify(r.samplesSaved)));
    for (const f of ["plots/f1.svg", "plots/loss_5.svg", "plots/loss_20.svg"]) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const report = await Deno.readTextFile(join(out, "report.md"));
    for (
      const h of [
        "## Conclusion",
        "## Macro-F1 per labelled-sample count",
        "## Loss curves",
        "## Engine vs TF.js",
      ]
    ) {
      assert.ok(report.includes(h), h);
    }
    const row5 = `| 5 | ${5 * k} | 0.dddd | **0.dddd** | **0.dddd** |`;
    const escaped = row5.replace(/[|*.]/g, (c) => `\\${c}`).replaceAll("dddd", "\\d{4}");
    assert.match(report, new RegExp(escaped));
    assert.match(report, /Samples saved: /);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
