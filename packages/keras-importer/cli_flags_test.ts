/**
 * Every CLI flag's bad value ends in a one-line `error:` and exit code 1 or 2, never an
 * uncaught exception or an `Error:`/`TypeError:` from deep inside.
 */
import assert from "node:assert/strict";
import { inspectCommand, predictCommand } from "./cli.ts";
import { kerasArchiveBytes, writeNpy } from "./mod.ts";
import { denseModel } from "./testing/model_specs.ts";

Deno.test("predict/inspect: bad flag values are reported errors with exit codes 1 or 2", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const model = `${dir}/m.keras`;
    const x = `${dir}/x.npy`;
    await Deno.writeFile(model, await kerasArchiveBytes(denseModel().spec));
    await Deno.writeFile(x, writeNpy({ data: new Float32Array(16), shape: [2, 8] }));
    await Deno.writeFile(`${dir}/wide.npy`, writeNpy({ data: new Float32Array(9), shape: [1, 9] }));
    const long = `${dir}/${"x".repeat(5000)}`;
    const cases: [string, string[], number, RegExp][] = [
      ["output name too long", ["--model", model, "--input", x, "--output", long], 2, /--output/],
      [
        "output is a folder",
        ["--model", model, "--input", x, "--output", dir, "--force"],
        1,
        /cannot write --output/,
      ],
      [
        "input is a folder",
        ["--model", model, "--input", dir, "--output", `${dir}/y.npy`],
        2,
        /--input/,
      ],
      [
        "input not .npy",
        ["--model", model, "--input", model, "--output", `${dir}/y.npy`],
        1,
        /\.npy/,
      ],
      [
        "input of the wrong width",
        ["--model", model, "--input", `${dir}/wide.npy`, "--output", `${dir}/y.npy`],
        1,
        /InputShapeError.*\(None, 8\)/,
      ],
      [
        "model missing",
        ["--model", `${dir}/nope.keras`, "--input", x, "--output", `${dir}/y.npy`],
        1,
        /nope\.keras/,
      ],
      [
        "model is a folder",
        ["--model", dir, "--input", x, "--output", `${dir}/y.npy`],
        1,
        /not a regular file/,
      ],
      [
        "batch size NaN",
        ["--model", model, "--input", x, "--output", `${dir}/y.npy`, "--batch-size", "NaN"],
        2,
        /--batch-size/,
      ],
      ["empty value", ["--model=", "--input", x], 2, /--model needs a value/],
    ];
    for (const [what, args, code, pattern] of cases) {
      const err: string[] = [];
      const got = await predictCommand(args, { out: () => {}, err: (l) => err.push(l) });
      assert.equal(got, code, `${what}: exit ${got}, ${err.join(" | ")}`);
      assert.match(err[0], /^error: /, what);
      assert.doesNotMatch(err[0], /^error: (Type|Range|Reference)?Error:/, `${what}: ${err[0]}`);
      assert.match(err[0], pattern, `${what}: ${err[0]}`);
    }
    const err: string[] = [];
    assert.equal(
      await inspectCommand(["--model", dir], { out: () => {}, err: (l) => err.push(l) }),
      1,
    );
    assert.match(err[0], /not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
