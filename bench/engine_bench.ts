/**
 * `deno task bench` (this file: `deno bench -A bench/engine_bench.ts`): the seeds' CNN and text
 * model at batch 1, 8 and 64 — engine vs TF.js cpu vs TF.js wasm, in one run. deno bench prints
 * time per iteration and, per group, how many times faster the engine (the baseline) is than each
 * TF.js backend; samples/s = batch / time. `deno task bench:report` covers every model variant.
 */
import { buildModel } from "../packages/engine/mod.ts";
import { seedsDefaultCases } from "./cases.ts";
import { tfjsRunner } from "./tfjs_backends.ts";

for (const c of seedsDefaultCases()) {
  const engine = buildModel(c.spec);
  const wasm = await tfjsRunner(c.spec, "wasm");
  const cpu = await tfjsRunner(c.spec, "cpu");
  for (const batch of [1, 8, 64]) {
    const x = c.input(batch);
    const group = `${c.label} batch ${batch}`;
    // TF.js cpu takes up to seconds an iteration at batch 64: cap its iterations.
    const cpuLimits = batch === 64 ? { n: 3, warmup: 1 } : { n: 10, warmup: 2 };
    Deno.bench({
      name: `engine    ${group}`,
      group,
      baseline: true,
      fn: () => {
        engine.predict(x, { batchSize: batch });
      },
    });
    Deno.bench({
      name: `tfjs-wasm ${group}`,
      group,
      fn: async () => {
        await wasm.activate();
        wasm.predict(x);
      },
    });
    Deno.bench({
      name: `tfjs-cpu  ${group}`,
      group,
      ...cpuLimits,
      fn: async () => {
        await cpu.activate();
        cpu.predict(x);
      },
    });
  }
}
