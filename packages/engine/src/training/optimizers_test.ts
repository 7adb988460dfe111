import {
  Adam,
  type ParamRef,
  resolveOptimizer,
  RMSprop,
  SGD,
  TrainingConfigError,
} from "../../mod.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { adamReference, clipByNormReference, sgdReference } from "../kernels/optim_reference.ts";

function params(rng: Rng, sizes: number[], gradScale: number) {
  const { heap } = getRuntime();
  const w = sizes.map((n) => rng.floats(n));
  const g = sizes.map((n) => rng.floats(n, -gradScale, gradScale));
  const refs: ParamRef[] = sizes.map((n, i) => ({
    weight: heap.upload(w[i]),
    grad: heap.upload(g[i]),
    size: n,
  }));
  const free = () => refs.forEach((p) => [p.weight, p.grad].forEach((q) => heap.free(q)));
  return { w, g, refs, free };
}

Deno.test("clipnorm clips each tensor by its own norm; global_clipnorm all together", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(401);
  // clipnorm 0.5 on SGD(lr=1): w' = w − clip(g).
  const a = params(rng, [7, 33], 3);
  const sgd = new SGD({ learningRate: 1, clipnorm: 0.5 });
  sgd.applyGradients(a.refs, kernels, heap);
  a.refs.forEach((p, i) => {
    const want = clipByNormReference(a.g[i], 0.5).map((v, k) => a.w[i][k] - v);
    if (maxAbsDiff(heap.f32(p.weight, p.size), want) > 1e-6) throw new Error(`clipnorm ${i}`);
  });
  a.free();
  // global_clipnorm 0.5: one scale for all tensors.
  const b = params(rng, [7, 33], 3);
  const norm = Math.sqrt(b.g.flatMap((x) => Array.from(x)).reduce((s, v) => s + v * v, 0));
  new SGD({ learningRate: 1, globalClipnorm: 0.5 }).applyGradients(b.refs, kernels, heap);
  b.refs.forEach((p, i) => {
    const want = b.w[i].map((v, k) => v - (b.g[i][k] * 0.5) / norm);
    if (maxAbsDiff(heap.f32(p.weight, p.size), want) > 1e-6) throw new Error(`global ${i}`);
  });
  b.free();
  // clipvalue.
  const c = params(rng, [9], 3);
  new SGD({ learningRate: 1, clipvalue: 0.2 }).applyGradients(c.refs, kernels, heap);
  const want = c.w[0].map((v, k) => v - Math.min(0.2, Math.max(-0.2, c.g[0][k])));
  if (maxAbsDiff(heap.f32(c.refs[0].weight, 9), want) > 1e-6) throw new Error("clipvalue");
  c.free();
  // Small gradients are left alone by clipnorm.
  const d = params(rng, [5], 0.01);
  new SGD({ learningRate: 1, clipnorm: 10 }).applyGradients(d.refs, kernels, heap);
  const same = d.w[0].map((v, k) => v - d.g[0][k]);
  if (maxAbsDiff(heap.f32(d.refs[0].weight, 5), same) > 1e-7) throw new Error("clipnorm no-op");
  d.free();
});

Deno.test("optimizer state: Adam counts steps and keeps moments per tensor", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(402);
  const p = params(rng, [13, 4], 1);
  const adam = new Adam({ learningRate: 0.01 });
  const m = p.w.map((x) => new Float32Array(x.length)),
    v = p.w.map((x) => new Float32Array(x.length));
  const w = p.w.map((x) => x.slice());
  for (let t = 1; t <= 5; t++) {
    const g = p.w.map((x) => rng.floats(x.length));
    p.refs.forEach((r, i) => heap.f32(r.grad, r.size).set(g[i]));
    adam.applyGradients(p.refs, kernels, heap);
    w.forEach((wi, i) => adamReference(wi, g[i], m[i], v[i], t, 0.01));
  }
  if (adam.iterations !== 5) throw new Error(`iterations ${adam.iterations}`);
  p.refs.forEach((r, i) => {
    if (maxAbsDiff(heap.f32(r.weight, r.size), w[i]) > 1e-6) throw new Error(`adam tensor ${i}`);
  });
  // Another parameter list is refused.
  let err: unknown;
  try {
    adam.applyGradients(p.refs.slice(0, 1), kernels, heap);
  } catch (e) {
    err = e;
  }
  if (!(err instanceof TrainingConfigError)) {
    throw new Error(`expected TrainingConfigError: ${err}`);
  }
  adam.dispose();
  p.free();
});

Deno.test("resolveOptimizer: names, Keras configs, defaults, and refusals", () => {
  const a = resolveOptimizer("adam") as Adam;
  if (
    a.learningRate !== Math.fround(1e-3) || a.beta1 !== 0.9 || a.beta2 !== 0.999 ||
    a.epsilon !== 1e-7
  ) {
    throw new Error(`adam defaults ${JSON.stringify(a.getConfig())}`);
  }
  if (resolveOptimizer("sgd").learningRate !== Math.fround(0.01)) throw new Error("sgd default lr");
  const k = resolveOptimizer({
    class_name: "SGD",
    config: { name: "SGD", learning_rate: 0.1, momentum: 0.9, nesterov: true, clipnorm: null },
  }) as SGD;
  if (k.momentum !== 0.9 || !k.nesterov || k.learningRate !== Math.fround(0.1)) {
    throw new Error(`keras config ${JSON.stringify(k.getConfig())}`);
  }
  const r = resolveOptimizer({ class_name: "RMSprop", config: { rho: 0.8, centered: true } });
  if (!(r instanceof RMSprop) || r.rho !== 0.8 || !r.centered) throw new Error("rmsprop config");
  for (
    const bad of [
      () => resolveOptimizer("adagrad"),
      () => new Adam({ clipnorm: 1, clipvalue: 1 }),
      () => new SGD({ learningRate: -1 }),
      () => resolveOptimizer({ class_name: "Adam", config: { amsgrad: true } }),
    ]
  ) {
    let err: unknown;
    try {
      bad();
    } catch (e) {
      err = e;
    }
    if (!(err instanceof TrainingConfigError)) {
      throw new Error(`expected TrainingConfigError: ${err}`);
    }
  }
  // Nesterov SGD matches the reference.
  const { kernels, heap } = getRuntime();
  const rng = new Rng(403);
  const p = params(rng, [11], 1);
  const mom = new Float32Array(11);
  const w = p.w[0].slice();
  const nes = new SGD({ learningRate: 0.1, momentum: 0.5, nesterov: true });
  for (let t = 0; t < 3; t++) {
    const g = rng.floats(11);
    heap.f32(p.refs[0].grad, 11).set(g);
    nes.applyGradients(p.refs, kernels, heap);
    sgdReference(w, g, mom, 0.1, 0.5, true);
  }
  if (maxAbsDiff(heap.f32(p.refs[0].weight, 11), w) > 1e-6) throw new Error("nesterov");
  nes.dispose();
  p.free();
});
