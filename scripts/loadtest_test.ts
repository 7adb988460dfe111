/**
 * `loadtest`: flag parsing, percentiles, sample bodies, and a short fault run against a real
 * `serve:api` process (2 s): no well-formed request lost or wrong, no 5xx, every fault answered
 * with its status, the server alive afterwards.
 */
import { deepStrictEqual as assertEquals, ok as assert, throws } from "node:assert/strict";
import { buildModel } from "../packages/engine/mod.ts";
import { saveKeras } from "../packages/keras-importer/mod.ts";
import { quantile, runLoad } from "./loadtest/client.ts";
import { runFaults } from "./loadtest/faults.ts";
import { startServeApi } from "./loadtest/server.ts";
import { LoadtestUsageError, parseLoadtestArgs, sampleBody, sampleInstance } from "./loadtest.ts";

Deno.test("parseLoadtestArgs: defaults, bounds, refusals by flag", () => {
  const f = parseLoadtestArgs(["--model", "m=x.keras"]);
  assertEquals(
    [f.name, f.path, f.seconds, f.concurrency, f.target, f.faults],
    ["m", "x.keras", 5, [1, 8, 64], "deno", false],
  );
  const g = parseLoadtestArgs(["--model=m=x", "--seconds=2", "--concurrency", "4", "--faults"]);
  assertEquals([g.seconds, g.concurrency, g.faults], [2, [4], true]);
  throws(() => parseLoadtestArgs([]), LoadtestUsageError);
  throws(() => parseLoadtestArgs(["--model", "m=x", "--seconds", "1000"]), /--seconds/);
  throws(() => parseLoadtestArgs(["--model", "m=x", "--concurrency", "0"]), /--concurrency/);
  throws(() => parseLoadtestArgs(["--model", "m=x", "--target", "node"]), /--target/);
  throws(
    () => parseLoadtestArgs(["--model", "m=x", "--faults", "--target", "workerd"]),
    /--faults/,
  );
});

Deno.test("quantile: nearest rank; sample bodies follow the signature", () => {
  const v = Array.from({ length: 100 }, (_, i) => i + 1);
  assertEquals([quantile(v, 0.5), quantile(v, 0.95), quantile(v, 0.99), quantile(v, 1)], [
    50,
    95,
    99,
    100,
  ]);
  assert(Number.isNaN(quantile([], 0.5)));
  const ids = sampleInstance({ name: "x", shape: [null, 3], dtype: "int32" }, 1) as number[];
  assert(ids.length === 3 && ids.every((x) => Number.isInteger(x) && x >= 0 && x < 10));
  const img = sampleInstance({ name: "x", shape: [null, 2, null], dtype: "float32" }, 1);
  assertEquals([(img as number[][]).length, (img as number[][])[0].length], [2, 16]);
  const text = JSON.parse(sampleBody({ inputs: [], preprocessing: { className: "x" } }, 1));
  assertEquals(typeof text.instances[0], "string");
  const two = JSON.parse(sampleBody({
    inputs: [{ name: "a", shape: [null, 1], dtype: "float32" }, {
      name: "b",
      shape: [null, 2],
      dtype: "float32",
    }],
    preprocessing: null,
  }, 1));
  assertEquals(Object.keys(two.instances[0]), ["a", "b"]);
});

Deno.test("fault run against serve:api: nothing lost, no 5xx, each fault refused as it should be", async () => {
  const dir = await Deno.makeTempDir({ prefix: "loadtest_test_" });
  const model = buildModel({
    config: {
      class_name: "Sequential",
      config: {
        name: "mlp",
        layers: [
          { class_name: "InputLayer", config: { name: "x", batch_shape: [null, 4] } },
          { class_name: "Dense", config: { name: "y", units: 3, activation: "softmax" } },
        ],
      },
    },
    weights: {},
  }, { initialize: { seed: 4 } });
  const path = `${dir}/m.keras`;
  await saveKeras(model, path);
  const bytes = await Deno.readFile(path);
  model.dispose();
  const server = await startServeApi([
    "--model",
    `m=${path}`,
    "--watch",
    "--max-body-bytes",
    "65536",
    "--deadline-ms",
    "600",
  ]);
  try {
    const goodBody = JSON.stringify({ instances: [[0.5, 1, -1, 2]] });
    const want = await (await fetch(`${server.url}/v1/models/m:predict`, {
      method: "POST",
      body: goodBody,
    })).text();
    assert(want.startsWith('{"predictions"'), want);
    const report = await runFaults({
      url: server.url,
      model: "m",
      goodBody,
      accepts: (body) => body === want,
      wrongShapeBody: JSON.stringify({ instances: [[1, 2, 3]] }),
      wrongDtypeBody: JSON.stringify({ instances: [[1, 2, 3, "4"]] }),
      instanceShape: [4],
      maxBodyBytes: 65536,
      deadlineMs: 600,
      replaceModel: async (stage) => {
        if (stage === "half") await Deno.writeFile(path, bytes.subarray(0, bytes.length >> 1));
        else {
          await Deno.writeFile(`${path}.tmp`, bytes);
          await Deno.rename(`${path}.tmp`, path);
        }
      },
      seconds: 3,
      concurrency: 4,
    });
    assert(report.good.sent > 20, JSON.stringify(report.good));
    assertEquals([report.good.lost, report.good.wrong], [0, 0], JSON.stringify(report));
    assertEquals(report.good.correct, report.good.sent);
    assertEquals(report.serverErrors, 0, JSON.stringify(report.faults));
    assert(report.aliveAfter && server.alive());
    for (const [kind, f] of Object.entries(report.faults)) {
      assert(f.sent > 0, kind);
      assertEquals(f.asExpected, f.sent, `${kind}: ${JSON.stringify(f)}`);
    }
    assert(Object.keys(report.faults).length >= 10, Object.keys(report.faults).join());
    // The half-written file was refused, the whole one taken.
    const output = server.output();
    assert(/reload of m failed/.test(output) && /reloaded m/.test(output), output);
    // And plain load still works after all that.
    const after = await runLoad(
      () => ({
        url: `${server.url}/v1/models/m:predict`,
        init: { method: "POST", body: goodBody },
      }),
      2,
      0.3,
    );
    assertEquals(Object.keys(after.statuses), ["200"]);
  } finally {
    assertEquals(await server.stop(), 0);
    await Deno.remove(dir, { recursive: true });
  }
});
