import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { unzlibSync } from "fflate";
import { buildModel } from "@scratchnet/engine";
import {
  autoencoderConfig,
  type AutoencoderResults,
  gridIndices,
  meanSquaredError,
  parseAutoencoderArgs,
  runAutoencoder,
} from "./autoencoder.ts";
import { UsageError } from "./errors.ts";
import { crc32, encodeGrayPng, tile } from "./image_grid.ts";
import { createProgress } from "./progress.ts";

Deno.test("autoencoder options: defaults per mode, and bad values name their flag", () => {
  const full = parseAutoencoderArgs(["autoencoder"]);
  assert.equal(full.epochs, 6);
  assert.equal(full.trainSize, 10000);
  assert.equal(full.testSize, null);
  assert.equal(full.codeDim, 32);
  assert.equal(full.decoder, "transpose");
  assert.equal(full.loss, "mse");
  assert.equal(full.out, "experiments/autoencoder");
  const quick = parseAutoencoderArgs(["autoencoder", "--quick", "--train-size", "all"]);
  assert.equal(quick.trainSize, null);
  assert.equal(quick.testSize, 256);
  assert.equal(quick.referenceSize, 128);
  assert.equal(quick.out, "experiments/autoencoder-quick");
  const cases: [string[], string][] = [
    [["autoencoder", "--decoder", "deconv"], "--decoder"],
    [["autoencoder", "--code-dim", "0"], "--code-dim"],
    [["autoencoder", "--loss", "mae"], "--loss"],
    [["autoencoder", "--train-size", "ten"], "--train-size"],
    [["autoencoder", "--dataset", "mnist"], "--dataset"],
    [["autoencoder", "--learning-rate", "0"], "--learning-rate"],
    [["autoencoder", "extra"], "family"],
  ];
  for (const [argv, flag] of cases) {
    assert.throws(
      () => parseAutoencoderArgs(argv),
      (e: unknown) => e instanceof UsageError && e.argument === flag,
      argv.join(" "),
    );
  }
});

Deno.test("PNG encoder: CRC-32 check value, chunk layout, pixels round-trip through zlib", () => {
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  const pixels = Float32Array.from([0, 0.5, 1, 2, -1, 0.25]);
  const png = encodeGrayPng(pixels, 3, 2);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  const view = new DataView(png.buffer);
  assert.equal(new TextDecoder().decode(png.subarray(12, 16)), "IHDR");
  assert.equal(view.getUint32(16), 3);
  assert.equal(view.getUint32(20), 2);
  assert.equal(view.getUint32(29), crc32(png.subarray(12, 29)));
  const idatLength = view.getUint32(33);
  assert.equal(new TextDecoder().decode(png.subarray(37, 41)), "IDAT");
  const raw = unzlibSync(png.subarray(41, 41 + idatLength));
  // One filter byte per row, values clamped to [0, 1] and scaled to 0..255.
  assert.deepEqual([...raw], [0, 0, 128, 255, 0, 255, 0, 64]);
  assert.throws(() => encodeGrayPng(pixels, 4, 2), RangeError);
  const t = tile([[Float32Array.of(0)], [Float32Array.of(0.5)]], 1, 1, 1);
  assert.deepEqual([t.width, t.height], [3, 5]);
  assert.deepEqual([...t.pixels], [1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0.5, 1, 1, 1, 1]);
});

Deno.test("autoencoder configs: both decoders map 28×28×1 to 28×28×1 through the code", () => {
  for (const decoder of ["transpose", "upsampling"] as const) {
    const model = buildModel({ config: autoencoderConfig(8, decoder), weights: {} }, {
      initialize: { seed: 1 },
    });
    try {
      assert.deepEqual(model.outputShape, [28, 28, 1], decoder);
      assert.deepEqual(model.getLayer("code").outputShape.slice(-1), [8]);
    } finally {
      model.dispose();
    }
  }
  assert.deepEqual(gridIndices(Int32Array.from([3, 1, 1, 0, 3]), 4), [3, 1, 0]);
  assert.equal(meanSquaredError(Float32Array.of(0, 1), Float32Array.of(1, 1)), 0.5);
});

Deno.test("autoencoder --quick end to end: MSE falls, probe, grid, engine = TF.js, report", async () => {
  const out = await Deno.makeTempDir({ prefix: "autoencoder_test_" });
  try {
    const o = parseAutoencoderArgs(["autoencoder", "--quick", "--out", out, "--progress", "none"]);
    const r = await runAutoencoder(o, createProgress("none"));
    assert.equal(r.history.mse.length, o.epochs);
    assert.equal(r.history.val_mse.length, o.epochs);
    for (const v of [...r.history.mse, ...r.history.val_mse, r.testMse, r.initialTestMse]) {
      assert.ok(Number.isFinite(v) && v > 0 && v < 1, `MSE ${v}`);
    }
    // Training reconstructs: the MSE falls over the epochs and ends below the untrained model's.
    assert.ok(r.history.val_mse.at(-1)! < r.history.val_mse[0], `${r.history.val_mse}`);
    assert.ok(r.history.mse.at(-1)! < r.history.mse[0], `${r.history.mse}`);
    assert.ok(r.testMse < r.initialTestMse);
    for (const p of [r.probe.trained, r.probe.untrained]) {
      assert.ok(p.testAccuracy >= 0 && p.testAccuracy <= 1);
      assert.ok(p.trainAccuracy >= 0 && p.trainAccuracy <= 1);
    }
    assert.ok(r.reference.maxAbsDiff <= 1e-4, `max |Δ| ${r.reference.maxAbsDiff}`);
    assert.equal(r.reference.samples, 128);
    assert.deepEqual(r.grid.labels, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    for (const f of [r.modelFile, r.grid.png, r.grid.svg, "plots/mse.svg", "results.json"]) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const written = JSON.parse(
      await Deno.readTextFile(join(out, "results.json")),
    ) as AutoencoderResults;
    assert.deepEqual(written.history, r.history);
    const svg = await Deno.readTextFile(join(out, r.grid.svg));
    assert.match(svg, /href="data:image\/png;base64,iVBORw0KGgo/);
    const report = await Deno.readTextFile(join(out, "report.md"));
    for (
      const heading of [
        "## Conclusion",
        "## Reconstruction MSE per epoch",
        "## Inputs vs reconstructions",
        "## Linear probe",
        "## Engine vs TF.js",
      ]
    ) {
      assert.ok(report.includes(heading), heading);
    }
    assert.match(
      report,
      /\| epoch \| train MSE \| validation MSE \|\n\| ---: \| ---: \| ---: \|\n\| 1 \| /,
    );
    assert.match(report, /within 1e-4/);
    // A second run into the same folder is refused without --force.
    await assert.rejects(() => runAutoencoder(o, createProgress("none")), /--force/);
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
