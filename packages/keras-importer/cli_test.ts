import assert from "node:assert/strict";
import { type CliIo, inspectCommand, parseFlags, predictCommand, UsageError } from "./cli.ts";
import { kerasArchiveBytes, loadModel, OptionError, readNpy, writeNpy } from "./mod.ts";
import { cnnModel, denseModel } from "./testing/model_specs.ts";
import { samplePath } from "./testing/helpers.ts";

function capture(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [], errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

Deno.test("parseFlags: values, = form, booleans and usage errors", () => {
  assert.deepEqual(
    parseFlags(["--model", "a", "--batch-size=4", "--force"], ["model", "batch-size"], [
      "force",
    ]),
    { model: "a", "batch-size": "4", force: true },
  );
  assert.throws(() => parseFlags(["--model"], ["model"], []), UsageError);
  assert.throws(() => parseFlags(["--nope"], ["model"], []), /unknown flag --nope/);
  assert.throws(() => parseFlags(["stray"], ["model"], []), UsageError);
  assert.throws(() => parseFlags(["--model", "a", "--model", "b"], ["model"], []), /twice/);
});

Deno.test("predict: runs a .keras on a .npy batch, writes .npy, refuses to overwrite", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { spec } = denseModel();
    await Deno.writeFile(`${dir}/m.keras`, await kerasArchiveBytes(spec));
    const x = new Float32Array(5 * 8).map((_, i) => Math.sin(i));
    await Deno.writeFile(`${dir}/x.npy`, writeNpy({ data: x, shape: [5, 8] }));
    const io = capture();
    const args = [
      "--model",
      `${dir}/m.keras`,
      "--input",
      `${dir}/x.npy`,
      "--output",
      `${dir}/y.npy`,
    ];
    assert.equal(await predictCommand([...args, "--batch-size", "2"], io), 0, io.errors.join("\n"));
    assert.equal(io.lines.length, 1);
    assert.match(io.lines[0], /^mlp \(keras, Keras 3\.10\.0\): \[5,8\] float32 → \[5,4\] float32/);
    const y = readNpy(await Deno.readFile(`${dir}/y.npy`));
    assert.deepEqual(y.shape, [5, 4]);
    for (let r = 0; r < 5; r++) {
      const sum = Array.from(y.data.slice(r * 4, r * 4 + 4)).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-5, "softmax rows sum to 1");
    }
    const again = capture();
    assert.equal(await predictCommand(args, again), 2);
    assert.match(again.errors[0], /exists; pass --force/);
    assert.equal(await predictCommand([...args, "--force"], capture()), 0);
    const bad = capture();
    assert.equal(await predictCommand([...args, "--force", "--batch-size", "0"], bad), 2);
    assert.match(bad.errors.join("\n"), /--batch-size must be a positive integer/);
    const missing = capture();
    assert.equal(await predictCommand(["--input", "x.npy", "--output", "y.npy"], missing), 2);
    assert.match(missing.errors[0], /--model is required/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("inspect: summary table of a sample, and a typed error for a missing file", async () => {
  const io = capture();
  assert.equal(await inspectCommand(["--model", samplePath("test3_model_2.h5")], io), 0);
  const text = io.lines.join("\n");
  assert.match(text, /format h5, Keras 3\.9\.2, backend tensorflow/);
  assert.match(text, /conv2d_1 \(Conv2D\)\s+\(None, 30, 30, 16\)\s+448/);
  assert.match(text, /dense_2 \(Dense\)\s+\(None, 16\)\s+57616/);
  assert.match(text, /Total params: 58234/);
  const err = capture();
  assert.equal(await inspectCommand(["--model", "/nonexistent.keras"], err), 1);
  assert.match(err.errors[0], /nonexistent\.keras: cannot read file/);
});

Deno.test("predict --conv: direct and Winograd sums agree to float32 rounding; bad values refused", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/cnn.keras`, await kerasArchiveBytes(cnnModel().spec));
    const x = new Float32Array(4 * 10 * 10 * 3).map((_, i) => Math.cos(i * 0.37));
    await Deno.writeFile(`${dir}/x.npy`, writeNpy({ data: x, shape: [4, 10, 10, 3] }));
    const outputs: Float32Array[] = [];
    for (const conv of ["direct", "winograd"]) {
      const io = capture();
      const args = ["--model", `${dir}/cnn.keras`, "--input", `${dir}/x.npy`];
      const code = await predictCommand(
        [...args, "--output", `${dir}/${conv}.npy`, "--conv", conv],
        io,
      );
      assert.equal(code, 0, io.errors.join("\n"));
      outputs.push(readNpy(await Deno.readFile(`${dir}/${conv}.npy`)).data as Float32Array);
    }
    const d = outputs[0].reduce((m, v, i) => Math.max(m, Math.abs(v - outputs[1][i])), 0);
    assert.ok(d > 0, "the two methods round differently, so --conv reached the engine");
    assert.ok(d < 1e-5, `direct vs Winograd: max |Δp| ${d}`);
    const bad = capture();
    const badArgs = [
      "--model",
      `${dir}/cnn.keras`,
      "--input",
      `${dir}/x.npy`,
      "--output",
      `${dir}/b.npy`,
    ];
    assert.equal(await predictCommand([...badArgs, "--conv", "fft"], bad), 2);
    assert.match(bad.errors[0], /--conv must be auto, direct or winograd, got "fft"/);
    await assert.rejects(
      () => loadModel(`${dir}/cnn.keras`, { convAlgorithm: "fft" as "auto" }),
      (e: Error) => e instanceof OptionError && /options\.convAlgorithm/.test(e.message),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
