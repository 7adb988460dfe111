/**
 * Time per layer class of one model's predict (where a slow model spends its time):
 * `deno run -A bench/layer_profile.ts [MobileNetV2|ResNet50|InceptionV3|<report case>] [--size N]
 * [--batch N] [--calls N] [--no-fuse] [--threads N] [--top N]`. A report case is named by its id
 * or label (`cnn-3x3-32`, "CNN 1 conv 32 k3"). Wraps the call methods of every layer class
 * of the engine's model (on the class, so the layers fusion
 * folds count under their host's name) and prints milliseconds per call by class and by layer
 * (top 15, or `--top`). `--threads N` turns on N kernel threads (`setKernelThreads`).
 */
import { buildModel, type Layer, setKernelThreads, Tensor } from "../packages/engine/mod.ts";
import { applicationCase, reportCases } from "./cases.ts";
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
const threads = Number(value("--threads", "1"));
const top = Number(value("--top", "15"));
const reportCase = [...reportCases(), ...reportCases(true)].find((r) =>
  r.id === name || r.label === name
);
if (!reportCase) await useApplicationBackend("wasm");
const c = reportCase ?? applicationCase(name, size);
const model = buildModel(c.spec, { fuse: !args.includes("--no-fuse") });
const x: Tensor = c.input(batch);
console.log(`kernel threads: ${setKernelThreads(threads)}`);
model.predict(x); // build, fold, start the threads, warm up

const byLayer = new Map<string, { cls: string; ms: number; n: number }>();
const seen = new Set<object>();
/** Depth of wrapped calls in progress: a class method calling its parent's counts once. */
let depth = 0;
function wrap(layer: Layer): void {
  const proto = Object.getPrototypeOf(layer);
  if (seen.has(proto)) return;
  seen.add(proto);
  for (const method of ["callInputs", "callOutputs"]) {
    const original = proto[method];
    if (typeof original !== "function") continue;
    proto[method] = function (this: Layer, ...a: unknown[]) {
      if (depth > 0) return original.apply(this, a);
      depth++;
      const t0 = performance.now();
      try {
        return original.apply(this, a);
      } finally {
        depth--;
        const key = this.name;
        const e = byLayer.get(key) ?? { cls: this.className, ms: 0, n: 0 };
        e.ms += performance.now() - t0;
        e.n++;
        byLayer.set(key, e);
      }
    };
  }
}
for (const l of model.layers) wrap(l);
model.predict(x); // warm up the wrappers
byLayer.clear();
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
  } ms (the rest: the executor)`,
);
for (const [cls, ms] of [...byClass].sort((a, b) => b[1] - a[1])) {
  console.log(
    `  ${cls.padEnd(24)} ${ms.toFixed(2).padStart(8)} ms  ${(100 * ms / total).toFixed(1)} %`,
  );
}
console.log("top layers:");
for (const [n, e] of [...byLayer].sort((a, b) => b[1].ms - a[1].ms).slice(0, top)) {
  console.log(`  ${n.padEnd(32)} ${e.cls.padEnd(20)} ${(e.ms / calls).toFixed(2).padStart(8)} ms`);
}
model.dispose();
