/**
 * The CLIs on graphs: `predict` with one `--input` per model input and one `--output` per model
 * output, `--output-layer` feature extraction (nested paths too) and the typed errors for a
 * command line that does not fit the model; `inspect`'s "Connected to" column; the config
 * readers behind them (graph_info.ts) in both config forms. Tests that run a graph are ignored
 * (not passed) while the engine has no graph executor.
 */
import assert from "node:assert/strict";
import { type CliIo, inspectCommand, ModelArgumentError, predictCommand } from "./cli.ts";
import { connectionsTable, inboundLayers, layerNames, modelEndpoints } from "./graph_info.ts";
import { kerasArchiveBytes, loadModel, readNpy, writeNpy } from "./mod.ts";
import { denseModel } from "./testing/model_specs.ts";
import {
  type ConfigForm,
  functionalInSequentialFixture,
  sequentialInFunctionalFixture,
  sharedLayerFixture,
  twoInTwoOutFixture,
} from "./testing/graph_specs.ts";
import { Tensor } from "@scratchnet/engine";
import { engineSupportsGraphs } from "./testing/engine_probe.ts";

function capture(): CliIo & { lines: string[]; errors: string[] } {
  const lines: string[] = [], errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function floats(n: number, phase: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.7 + phase));
}

Deno.test("graph_info: inputs, outputs, layer names and inbound layers in both config forms", () => {
  for (const form of ["keras3", "keras2"] as ConfigForm[]) {
    const two = twoInTwoOutFixture(form).spec.config;
    assert.deepEqual(modelEndpoints(two), {
      inputs: ["in_a", "in_b"],
      outputs: ["out_main", "out_aux"],
    });
    const layers = two.config.layers as Record<string, unknown>[];
    assert.deepEqual(inboundLayers(layers[4] as never), ["da[0][0]", "db[0][0]"], form);
    const shared = sharedLayerFixture(form).spec.config.config.layers as never[];
    assert.deepEqual(inboundLayers(shared[2]), ["left[0][0]", "right[0][0]"], form);
    assert.deepEqual(inboundLayers(shared[3]), ["shared[0][0]", "shared[1][0]"], form);
    const nested = functionalInSequentialFixture(form).spec.config;
    assert.deepEqual(modelEndpoints(nested), { inputs: ["seq_input"], outputs: ["dense"] });
    assert.deepEqual(layerNames(nested), [
      "seq_input",
      "fbase",
      "fbase/fi",
      "fbase/fd",
      "fbase/core",
      "fbase/core/core_input",
      "fbase/core/c1",
      "fbase/core/cbn",
      "fbase/fadd",
      "dense",
      "fi",
      "fd",
      "core_input",
      "c1",
      "cbn",
      "fadd",
    ]);
  }
  // A Keras 3 model built on one input tensor writes one triple, not a list of triples.
  const single = sequentialInFunctionalFixture("keras3").spec.config;
  assert.deepEqual(single.config.input_layers, ["x", 0, 0]);
  assert.deepEqual(modelEndpoints(single), { inputs: ["x"], outputs: ["head"] });
  assert.equal(
    connectionsTable(sharedLayerFixture("keras3").spec.config),
    [
      "Layer (type)        Connected to",
      "left (InputLayer)",
      "right (InputLayer)",
      "shared (Dense)      left[0][0], right[0][0]",
      "sum (Add)           shared[0][0], shared[1][0]",
      "head (Dense)        sum[0][0]",
    ].join("\n"),
  );
});

Deno.test("predict: a command line that does not fit the model is a ModelArgumentError naming what it expects", async () => {
  await withDir(async (dir) => {
    await Deno.writeFile(`${dir}/m.keras`, await kerasArchiveBytes(denseModel().spec));
    await Deno.writeFile(`${dir}/x.npy`, writeNpy({ data: floats(16, 0), shape: [2, 8] }));
    const base = ["--model", `${dir}/m.keras`, "--input", `${dir}/x.npy`];
    const cases: [string, string[], RegExp][] = [
      [
        "two inputs for a one-input model",
        [...base, "--input", `${dir}/x.npy`, "--output", `${dir}/y.npy`],
        /--input: expected 1 \(one per model input, in order: mlp_input\), got 2/,
      ],
      [
        "two outputs for a one-output model",
        [...base, "--output", `${dir}/y.npy`, "--output", `${dir}/z.npy`],
        /--output: expected 1 \(one per model output, in order: softmax\), got 2/,
      ],
      [
        "unknown --output-layer",
        [...base, "--output", `${dir}/y.npy`, "--output-layer", "nope"],
        /--output-layer: expected a layer of model "mlp" \(mlp_input, dense, dropout, .*\), got "nope"/,
      ],
      [
        "--output-layer without its --output",
        [...base, "--output", `${dir}/y.npy`, "--output-layer", "dense", "--output-layer", "re_lu"],
        /--output: expected 2 \(one per --output-layer: dense, re_lu\), got 1/,
      ],
    ];
    for (const [what, args, pattern] of cases) {
      const io = capture();
      assert.equal(await predictCommand(args, io), 2, `${what}: ${io.errors.join(" | ")}`);
      assert.match(io.errors[0], pattern, what);
      assert.match(io.errors[1], /^usage: deno task predict/, what);
    }
    assert.deepEqual(
      { ...new ModelArgumentError("input", "2", "1") },
      { flag: "input", expected: "2", received: "1" },
    );
  });
});

Deno.test({
  name: "predict: one --input per model input, one --output per output, --output-layer by name " +
    "and nested path" + (engineSupportsGraphs ? "" : " [ignored: engine has no graph executor]"),
  ignore: !engineSupportsGraphs,
  fn: () =>
    withDir(async (dir) => {
      const { spec } = twoInTwoOutFixture("keras3");
      await Deno.writeFile(`${dir}/two.keras`, await kerasArchiveBytes(spec));
      const a = { data: floats(3 * 4, 0), shape: [3, 4] };
      const b = { data: floats(3 * 5, 1), shape: [3, 5] };
      await Deno.writeFile(`${dir}/a.npy`, writeNpy(a));
      await Deno.writeFile(`${dir}/b.npy`, writeNpy(b));
      const { model } = await loadModel(`${dir}/two.keras`);
      const [main, aux, da] = [
        ...model!.predictMany([new Tensor(a.data, a.shape), new Tensor(b.data, b.shape)]),
        ...model!.predictMany([new Tensor(a.data, a.shape), new Tensor(b.data, b.shape)], {
          outputs: ["da"],
        }),
      ];
      model!.dispose();
      const args = ["--model", `${dir}/two.keras`, "--input", `${dir}/a.npy`, "--input"];
      const io = capture();
      const code = await predictCommand(
        [...args, `${dir}/b.npy`, "--output", `${dir}/y1.npy`, "--output", `${dir}/y2.npy`],
        io,
      );
      assert.equal(code, 0, io.errors.join("\n"));
      assert.match(
        io.lines[0],
        /\[3,4\] float32, \[3,5\] float32 → \[3,2\] float32, \[3,1\] float32/,
      );
      const y1 = readNpy(await Deno.readFile(`${dir}/y1.npy`));
      const y2 = readNpy(await Deno.readFile(`${dir}/y2.npy`));
      assert.deepEqual([y1.shape, y2.shape], [[3, 2], [3, 1]]);
      assert.deepEqual([Array.from(y1.data), Array.from(y2.data)], [
        Array.from(main.data),
        Array.from(aux.data),
      ]);
      const layers = capture();
      assert.equal(
        await predictCommand(
          [...args, `${dir}/b.npy`, "--output-layer", "da", "--output", `${dir}/da.npy`],
          layers,
        ),
        0,
        layers.errors.join("\n"),
      );
      assert.match(layers.lines[0], /\(layers da\)/);
      assert.deepEqual(
        Array.from(readNpy(await Deno.readFile(`${dir}/da.npy`)).data),
        Array.from(da.data),
      );
      const one = capture();
      assert.equal(
        await predictCommand(
          ["--model", `${dir}/two.keras`, "--input", `${dir}/a.npy`, "--output", `${dir}/o.npy`],
          one,
        ),
        2,
      );
      assert.match(
        one.errors[0],
        /--input: expected 2 \(one per model input, in order: in_a, in_b\), got 1/,
      );
      // A layer inside a nested model, by path.
      const nested = sequentialInFunctionalFixture("keras3").spec;
      await Deno.writeFile(`${dir}/nested.keras`, await kerasArchiveBytes(nested));
      const path = capture();
      assert.equal(
        await predictCommand([
          "--model",
          `${dir}/nested.keras`,
          "--input",
          `${dir}/a.npy`,
          "--output-layer",
          "base/d1",
          "--output",
          `${dir}/d1.npy`,
        ], path),
        0,
        path.errors.join("\n"),
      );
      assert.deepEqual(readNpy(await Deno.readFile(`${dir}/d1.npy`)).shape, [3, 5]);
    }),
});

Deno.test({
  name: "inspect: a graph's summary has Connected to and trainable / non-trainable counts" +
    (engineSupportsGraphs ? "" : " [ignored: engine has no graph executor]"),
  ignore: !engineSupportsGraphs,
  fn: () =>
    withDir(async (dir) => {
      await Deno.writeFile(
        `${dir}/shared.keras`,
        await kerasArchiveBytes(sharedLayerFixture("keras3").spec),
      );
      const io = capture();
      assert.equal(await inspectCommand(["--model", `${dir}/shared.keras`], io), 0);
      const text = io.lines.join("\n");
      assert.match(text, /Connected to/);
      assert.match(text, /sum \(Add\).*shared\[0\]\[0\], shared\[1\]\[0\]/);
      assert.match(text, /Total params: 23/);
      await Deno.writeFile(
        `${dir}/nested.keras`,
        await kerasArchiveBytes(sequentialInFunctionalFixture("keras3").spec),
      );
      const nested = capture();
      assert.equal(await inspectCommand(["--model", `${dir}/nested.keras`], nested), 0);
      // base: d1 4·5+5, bn 4·5 (10 of them moving statistics), d2 5·3+3; head 3·2+2.
      assert.match(nested.lines.join("\n"), /Trainable params: 61\nNon-trainable params: 10/);
    }),
});
