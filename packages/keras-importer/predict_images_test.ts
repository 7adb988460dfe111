import assert from "node:assert/strict";
import { encode as encodePng } from "@cwasm/lodepng";
import { Tensor } from "../engine/mod.ts";
import { type CliIo, predictCommand } from "./cli.ts";
import { kerasArchiveBytes, loadModel, readNpy } from "./mod.ts";
import { hasRescaling } from "./predict_images.ts";
import { cnnModel } from "./testing/model_specs.ts";

function capture(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [], errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

/** A width × height RGBA PNG with pixel (x, y) = (25x, 20y, 7 * seed, 255). */
function png(width: number, height: number, seed: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) data.set([25 * x, 20 * y, 7 * seed, 255], (y * width + x) * 4);
  }
  return encodePng({ width, height, data });
}

Deno.test("predict --images: one file resized to the model input, top-k, .npy", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { spec } = cnnModel();
    await Deno.writeFile(`${dir}/m.keras`, await kerasArchiveBytes(spec));
    // Already 10×10: the model sees exactly bytes / 255.
    await Deno.writeFile(`${dir}/one.png`, png(10, 10, 3));
    const io = capture();
    const code = await predictCommand([
      "--model",
      `${dir}/m.keras`,
      "--images",
      `${dir}/one.png`,
      "--top-k",
      "2",
      "--output",
      `${dir}/y.npy`,
    ], io);
    assert.equal(code, 0, io.errors.join("\n"));
    assert.match(io.lines[0], /1 image\(s\) at 10×10×3, pixels 0–1/);
    const y = readNpy(await Deno.readFile(`${dir}/y.npy`), "y.npy");
    assert.deepEqual(y.shape, [1, 3]);
    const x = new Float32Array(300);
    for (let yy = 0; yy < 10; yy++) {
      for (let xx = 0; xx < 10; xx++) {
        x.set([25 * xx / 255, 20 * yy / 255, 21 / 255], (yy * 10 + xx) * 3);
      }
    }
    const { model } = await loadModel(`${dir}/m.keras`);
    const expected = model!.predict(new Tensor(x, [1, 10, 10, 3])).data;
    model!.dispose();
    for (let k = 0; k < 3; k++) assert.ok(Math.abs(y.data[k] - expected[k]) < 1e-6);
    // The printed line lists the 2 most probable class indices, most probable first.
    const best = [0, 1, 2].sort((a, b) => expected[b] - expected[a]);
    assert.equal(
      io.lines[1],
      `${dir}/one.png: ${best[0]} ${expected[best[0]].toFixed(4)}, ${best[1]} ${
        expected[best[1]].toFixed(4)
      }`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("predict --images: class folders, --labels names, accuracy line, errors", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const { spec } = cnnModel();
    await Deno.writeFile(`${dir}/m.keras`, await kerasArchiveBytes(spec));
    for (const [i, cls] of ["ant", "bee", "cow"].entries()) {
      await Deno.mkdir(`${dir}/imgs/${cls}`, { recursive: true });
      await Deno.writeFile(`${dir}/imgs/${cls}/a.png`, png(13, 7, i)); // odd size: resized
    }
    await Deno.writeTextFile(`${dir}/labels.txt`, "first\nsecond\nthird\n");
    const io = capture();
    const code = await predictCommand([
      "--model",
      `${dir}/m.keras`,
      "--images",
      `${dir}/imgs`,
      "--labels",
      `${dir}/labels.txt`,
    ], io);
    assert.equal(code, 0, io.errors.join("\n"));
    assert.equal(io.lines.length, 5);
    assert.ok(io.lines[1].startsWith(`${dir}/imgs/ant/a.png: `));
    assert.match(io.lines[1], /^[^:]+: (first|second|third) 0\.\d{4}, /);
    assert.match(io.lines[4], /^top-1 accuracy against the class folders: \d+\.\d\d% \(\d\/3\)$/);
    // Without --labels the folder names are the class names.
    const plain = capture();
    assert.equal(
      await predictCommand(["--model", `${dir}/m.keras`, "--images", `${dir}/imgs`], plain),
      0,
    );
    assert.match(plain.lines[2], /: (ant|bee|cow) /);

    await Deno.writeTextFile(`${dir}/two.txt`, "a\nb\n");
    const bad = capture();
    assert.equal(
      await predictCommand([
        "--model",
        `${dir}/m.keras`,
        "--images",
        `${dir}/imgs`,
        "--labels",
        `${dir}/two.txt`,
      ], bad),
      2,
    );
    assert.match(bad.errors[0], /expected 3 names \(one per model output\), found 2/);
    const mixed = capture();
    assert.equal(
      await predictCommand(["--model", "m", "--images", "x", "--input", "x.npy"], mixed),
      2,
    );
    assert.match(mixed.errors[0], /--images replaces --input/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("hasRescaling: finds a Rescaling layer in a config", () => {
  assert.equal(hasRescaling({ layers: [{ class_name: "Rescaling", config: {} }] }), true);
  assert.equal(hasRescaling(cnnModel().spec.config), false);
});
