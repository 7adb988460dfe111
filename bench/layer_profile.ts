/**
 * Time per layer class of one model's predict (where a slow model spends its time):
 * `deno run -A bench/layer_profile.ts [MobileNetV2|ResNet50|InceptionV3] [--size N] [--batch N]
 * [--calls N] [--no-fuse]`. Wraps each layer's call methods of the engine's replica of the
 * keras.applications model and prints milliseconds per call by class (and by layer, top 15),
 * with the GFLOP/s of the convolution classes.
 */
import { buildModel, type Layer, Tensor } from "../packages/engine/mod.ts";
import { applicationCase } from "./cases.ts";
import { useApplicationBackend } from "../packages/engine/testing/tfjs_applications.ts";

const args = Deno.args;
const value = (flag: string, fallback: string) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : fallback;
};
const name = args.find((a) => !a.startsWith("--") && !/^\d+$/.test(a)) ?? "MobileNetV2";
const size = Number(value("--size", "224"));
const batch = Number(value("--batch", "1"));
const calls = Number(value("--calls", "5"));
await useApplicationBackend("wasm");
const c = applicationCase(name, size);
const model = buildModel(c.spec, { fuse: !args.includes("--no-fuse") });
const x: Tensor = c.input(batch);
model.predict(x); // build, fold, warm up

const byLayer = new Map<string, { cls: string; ms: number; n: number }>();
const seen = new Set<object>();
function wrap(layer: Layer): void {
  if (seen.has(layer)) return;
  seen.add(layer);
  const target = layer as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const method of ["callInputs", "callOutputs"]) {
    const original = target[method];
    if (typeof original !== "function") continue;
    target[method] = function (this: unknown, ...a: unknown[]) {
      const t0 = performance.now();
      try {
        return original.apply(this, a);
      } finally {
        const key = layer.name;
        const e = byLayer.get(key) ?? { cls: layer.className, ms: 0, n: 0 };
        e.ms += performance.now() - t0;
        e.n++;
        byLayer.set(key, e);
      }
    };
  }
}
for (const l of model.layers) wrap(l);
// Folded layers (fusion.ts) are not in model.layers: with fusion on they count as "the rest".
const t0 = performance.now();
for (let i = 0; i < calls; i++) model.predict(x);
const total = (performance.now() - t0) / calls;
const byClass = new Map<string, number>();
let covered = 0;
for (const e of byLayer.values()) {
  byClass.set(e.cls, (byClass.get(e.cls) ?? 0) + e.ms / calls);
  covered += e.ms / calls;
}
console.log(
  `${c.label}, batch ${batch}: ${total.toFixed(2)} ms per call; wrapped layers ${
    covered.toFixed(2)
  } ms (the rest: folded layers and the executor)`,
);
for (const [cls, ms] of [...byClass].sort((a, b) => b[1] - a[1])) {
  console.log(
    `  ${cls.padEnd(24)} ${ms.toFixed(2).padStart(8)} ms  ${(100 * ms / total).toFixed(1)} %`,
  );
}
console.log("top layers:");
for (const [n, e] of [...byLayer].sort((a, b) => b[1].ms - a[1].ms).slice(0, 15)) {
  console.log(`  ${n.padEnd(32)} ${e.cls.padEnd(20)} ${(e.ms / calls).toFixed(2).padStart(8)} ms`);
}
model.dispose();
