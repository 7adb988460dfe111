import { getRuntime } from "../wasm/kernels.ts";
import { type Activation, ActivationCode } from "../activations.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose, assertCloseToScale } from "../../testing/assert.ts";
import { conv2dParams, conv2dWinogradKernelArgs } from "../../testing/kernel_cases.ts";
import { type Conv2DParams, conv2dReference } from "./conv_reference.ts";
import { conv2dFilterGradReference } from "./conv_grad_reference.ts";
import {
  conv2dWinogradReference,
  winogradFilterTransform,
  winogradTiles,
  type WinogradTransforms,
  winogradTransforms,
} from "./winograd_reference.ts";
import { WINOGRAD_ALPHA, winogradPays, type WinogradPlan, winogradPlan } from "../winograd.ts";
import { splitRange } from "../wasm/threads.ts";

const LINEAR: Activation = { kind: "elementwise", code: ActivationCode.Linear, alpha: 0, name: "" };
const RELU: Activation = { kind: "elementwise", code: ActivationCode.Relu, alpha: 0, name: "" };

/**
 * Runs the kernel; `chunkTiles` sets how many tiles a chunk holds (small: many chunks); `parts`
 * splits the tiles into that many consecutive calls, as kernel threads split one image.
 */
function runWinograd(
  x: Float32Array,
  kernel: Float32Array,
  bias: Float32Array | null,
  p: Conv2DParams,
  t: WinogradTransforms,
  act: Activation,
  chunkTiles: number,
  parts = 1,
): Float32Array {
  const { kernels, heap } = getRuntime();
  const u = Float32Array.from(winogradFilterTransform(kernel, p.c, p.outC, t));
  const px = heap.upload(x), pu = heap.upload(u), pb = bias ? heap.upload(bias) : 0;
  const n = p.batch * p.outH * p.outW * p.outC;
  const py = heap.alloc(n * 4);
  const scratchFloats = kernels.conv2dWinogradScratchFloats(chunkTiles, p.c, p.outC, t.m, t.r);
  const ps = heap.alloc(scratchFloats * 4);
  const code = act.kind === "elementwise" ? act.code : 0;
  const tiles = p.batch * winogradTiles(p.outH, t.m) * winogradTiles(p.outW, t.m);
  for (const [first, count] of splitRange(tiles, parts)) {
    kernels.conv2dWinograd(
      px,
      pu,
      pb,
      py,
      ps,
      scratchFloats,
      ...conv2dWinogradKernelArgs(p, t.m),
      code,
      act.kind === "elementwise" ? act.alpha : 0,
      first,
      count,
    );
  }
  const y = heap.f32(py, n).slice();
  [px, pu, pb, py, ps].forEach((ptr) => heap.free(ptr));
  return y;
}

Deno.test("conv2dWinograd: the tiles in 2 or 3 calls (as kernel threads split one image) give the whole call's output, bit for bit", () => {
  const rng = new Rng(8);
  for (const t of [winogradTransforms(6, 3), winogradTransforms(4, 3)]) {
    for (const [batch, size] of [[1, 13], [1, 7], [3, 11]]) {
      const p = conv2dParams(batch, [size, size, 8], 12, [3, 3], [1, 1], [1, 1], "same");
      const x = rng.floats(batch * size * size * 8), k = rng.floats(9 * 8 * 12, -0.3, 0.3);
      const bias = rng.floats(12);
      const whole = runWinograd(x, k, bias, p, t, RELU, 2);
      for (const parts of [2, 3]) {
        const split = runWinograd(x, k, bias, p, t, RELU, 2, parts);
        assertClose(split, whole, 0, `F(${t.m}) batch ${batch} ${size}×${size} in ${parts} calls`);
      }
    }
  }
});

Deno.test("winograd transforms: F(m, r) in float64 equals the direct correlation for α 3…8", () => {
  const rng = new Rng(7);
  for (
    const [m, r] of [[2, 2], [2, 3], [4, 3], [6, 3], [3, 4], [5, 4], [2, 5], [4, 5], [3, 6], [2, 7]]
  ) {
    const t = winogradTransforms(m, r);
    for (const padding of ["same", "valid"] as const) {
      const p = conv2dParams(2, [11, 9, 3], 5, [r, r], [1, 1], [1, 1], padding);
      const x = rng.floats(2 * 11 * 9 * 3), k = rng.floats(r * r * 3 * 5);
      const bias = rng.floats(5);
      const u = winogradFilterTransform(k, 3, 5, t);
      // Only the final float32 rounding of the output separates the two.
      assertCloseToScale(
        conv2dWinogradReference(x, u, bias, p, t),
        conv2dReference(x, k, bias, p),
        1e-6,
        `F(${m}, ${r}) ${padding}`,
        1,
      );
    }
  }
});

Deno.test("winograd transforms: a wrong matrix is caught (the oracle can fail)", () => {
  const t = winogradTransforms(4, 5);
  const broken = { ...t, bt: t.bt.slice() };
  broken.bt[9] += 0.5;
  const rng = new Rng(8);
  const p = conv2dParams(1, [8, 8, 2], 3, [5, 5], [1, 1], [1, 1], "same");
  const x = rng.floats(8 * 8 * 2), k = rng.floats(25 * 2 * 3);
  const u = winogradFilterTransform(k, 2, 3, broken);
  let failed = false;
  try {
    assertCloseToScale(
      conv2dWinogradReference(x, u, null, p, broken),
      conv2dReference(x, k, null, p),
      1e-3,
      "",
      1,
    );
  } catch {
    failed = true;
  }
  if (!failed) throw new Error("a perturbed Bᵀ went unnoticed");
});

Deno.test("conv2dWinograd kernel matches the references: α 8 with r 2…7 and α 6 (F(4×4, 3×3)), odd sizes, batch 1 and 3, chunks", () => {
  const rng = new Rng(9);
  let cases = 0;
  const plans: [number, number][] = [2, 3, 4, 5, 6, 7].map((r) => [WINOGRAD_ALPHA - r + 1, r]);
  plans.push([4, 3]);
  for (const [m, r] of plans) {
    const t = winogradTransforms(m, r);
    for (const [h, w, c, outC] of [[9, 13, 4, 8], [16, 16, 32, 12], [5, 7, 12, 4]]) {
      for (const padding of ["same", "valid"] as const) {
        for (const batch of [1, 3]) {
          const p = conv2dParams(batch, [h, w, c], outC, [r, r], [1, 1], [1, 1], padding);
          if (p.outH === 0 || p.outW === 0) continue;
          const x = rng.floats(batch * h * w * c, 0, 1);
          const lim = Math.sqrt(6 / (r * r * (c + outC)));
          const k = rng.floats(r * r * c * outC, -lim, lim);
          const bias = cases % 2 ? rng.floats(outC) : null;
          const act = cases % 3 ? RELU : LINEAR;
          const tiles = batch * Math.ceil(p.outH / m) * Math.ceil(p.outW / m);
          for (const chunk of [tiles, 1, 5]) {
            const got = runWinograd(x, k, bias, p, t, act, chunk);
            const what =
              `F(${m}, ${r}) ${h}×${w}×${c}→${outC} ${padding} batch ${batch} chunk ${chunk}`;
            // Against the direct float64 sum: what Winograd's float32 transforms add to a conv's
            // rounding (measured 3–6e-6 of the output's scale for these cases; r = 2, m = 7 worst).
            assertCloseToScale(got, conv2dReference(x, k, bias, p, act), 1e-5, what, 1);
            const u32 = Float32Array.from(winogradFilterTransform(k, c, outC, t));
            assertCloseToScale(
              got,
              conv2dWinogradReference(x, u32, bias, p, t, act),
              1e-5,
              what,
              1,
            );
            cases++;
          }
        }
      }
    }
  }
  if (cases < 170) throw new Error(`only ${cases} cases ran`);
});

Deno.test("winogradPlan: auto takes 3×3…7×7 stride-1 convs with ≥ 8 channels, multiples of 4; 3×3 as F(4×4, 3×3)", () => {
  const plan = (k: number, s = 1, d = 1, c = 32, o = 64, a: "auto" | "winograd" = "auto") =>
    winogradPlan(a, [k, k], [s, s], [d, d], c, o);
  assertClose(
    [plan(3)?.m ?? 0, plan(5)?.m ?? 0, plan(7)?.m ?? 0, plan(4)?.m ?? 0, plan(6)?.m ?? 0],
    [4, 4, 2, 5, 3],
    0,
    "m",
  );
  for (
    const [what, p] of [
      ["2×2 under auto", plan(2)],
      ["stride 2", plan(5, 2)],
      ["dilation 2", plan(5, 1, 2)],
      ["c not a multiple of 4", plan(5, 1, 1, 30)],
      ["outC not a multiple of 4", plan(5, 1, 1, 32, 10)],
      ["4 input channels under auto", plan(5, 1, 1, 4)],
      ["over 16 MiB of filters under auto (3×3, 512 → 512: 36 MiB)", plan(3, 1, 1, 512, 512)],
      ["over 16 MiB of filters under auto (5×5, 256 → 260)", plan(5, 1, 1, 256, 260)],
      ["8×8 kernel", plan(8, 1, 1, 32, 64, "winograd")],
      ["direct", winogradPlan("direct", [5, 5], [1, 1], [1, 1], 32, 64)],
      ["non-square", winogradPlan("winograd", [5, 3], [1, 1], [1, 1], 32, 64)],
    ] as const
  ) {
    if (p !== null) throw new Error(`${what}: expected no Winograd plan`);
  }
  if (plan(2, 1, 1, 4, 4, "winograd")?.m !== 7) throw new Error("forced 2×2 should be F(7, 2)");
  if (plan(3, 1, 1, 256, 256)?.m !== 4) throw new Error("256 → 256 (9 MiB) should be F(4, 3)");
  if (plan(3, 1, 1, 512, 512, "winograd")?.m !== 4) throw new Error("forced wide 3×3: F(4, 3)");
});

Deno.test("winogradPays: few tiles over large transformed filters stay direct", () => {
  const f4 = winogradPlan("auto", [3, 3], [1, 1], [1, 1], 256, 256)!;
  const f6: WinogradPlan = {
    m: 6,
    r: 3,
    alpha: 8,
    transforms: winogradTransforms(6, 3),
    gradTransforms: winogradTransforms(3, 6),
  };
  if (f4.alpha !== 6 || f4.m !== 4) throw new Error("3×3 should plan F(4×4, 3×3)");
  const cases: [string, WinogradPlan, number, number, number, number, boolean][] = [
    // [what, plan, images, out side, c, outC, Winograd pays] (ResNet50's layers, measured)
    ["F(4) 14×14×256 → 256, batch 1 (16 tiles, 9 MiB of U)", f4, 1, 14, 256, 256, true],
    ["F(6) 14×14×256 → 256, batch 2", f6, 2, 14, 256, 256, true],
    ["F(4) 28×28×128 → 128, batch 1", f4, 1, 28, 128, 128, true],
    ["F(4) 56×56×64 → 64, batch 1", f4, 1, 56, 64, 64, true],
    ["F(4) 16×16×32 → 64, batch 1 (U cached)", f4, 1, 16, 32, 64, true],
    ["F(4) 7×7×512 → 512, batch 8", f4, 8, 7, 512, 512, true],
    ["F(4) 4×4×512 → 512, batch 1 (1 tile, 36 MiB of U)", f4, 1, 4, 512, 512, false],
  ];
  for (const [what, plan, images, side, c, outC, want] of cases) {
    if (winogradPays(plan, images, side, side, c, outC) !== want) {
      throw new Error(`${what}: expected ${want ? "Winograd" : "direct"}`);
    }
  }
});

Deno.test("winogradFilterTransform (the device transform training uses) matches the float64 reference", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(77);
  // α 6 (F(4×4, 3×3)) and α 8 for r 2…7; channel counts multiples of 4 (pairs a multiple of 4),
  // one pair count not a multiple of 8.
  const cases: [number, number, number][] = [
    [4, 3, 4],
    [3, 4, 12],
    [2, 8, 4],
    [5, 4, 8],
    [7, 12, 4],
    [6, 4, 4],
  ];
  for (const [r, c, outC] of cases) {
    const m = r === 3 ? 4 : 8 - r + 1;
    const t = winogradTransforms(m, r);
    const w = rng.floats(r * r * c * outC, -1, 1);
    const want = winogradFilterTransform(w, c, outC, t);
    const pw = heap.upload(w);
    const pg = heap.upload(Float32Array.from(t.g));
    const pu = heap.alloc(want.length * 4);
    const scratch = heap.alloc(t.alpha * r * 16);
    kernels.winogradFilterTransform(pw, pu, pg, scratch, c * outC, r, t.alpha);
    assertCloseToScale(heap.f32(pu, want.length), want, 1e-6, `F(${m}, ${r}) ${c} → ${outC}`);
    [pw, pg, pu, scratch].forEach((p) => heap.free(p));
  }
});

/**
 * dW of a stride-1 conv by `conv2dWinogradFilterGrad` (chunks of `chunkTiles` tiles; `calls`
 * times into the same sums, the later ones accumulating) then `winogradFilterTransform` with Aᵀ
 * of F(r, m).
 */
function runFilterGrad(
  x: Float32Array,
  dz: Float32Array,
  p: Conv2DParams,
  m: number,
  chunkTiles: number,
  calls = 1,
): Float32Array {
  const { kernels, heap } = getRuntime();
  const r = p.kh, alpha = m + r - 1;
  const t = winogradTransforms(r, m);
  const px = heap.upload(x), pz = heap.upload(dz);
  const pa = heap.upload(Float32Array.from(t.at));
  const sums = heap.alloc(alpha * alpha * p.c * p.outC * 4);
  const scratchFloats = kernels.conv2dWinogradScratchFloats(chunkTiles, p.c, p.outC, m, r);
  const ps = heap.alloc(scratchFloats * 4);
  const n = r * r * p.c * p.outC;
  const pw = heap.alloc(n * 4);
  const pt = heap.alloc(alpha * r * 16);
  for (let call = 0; call < calls; call++) {
    kernels.conv2dWinogradFilterGrad(
      px,
      pz,
      sums,
      ps,
      scratchFloats,
      ...conv2dWinogradKernelArgs(p, m),
      call > 0 ? 1 : 0,
    );
  }
  kernels.winogradFilterTransform(sums, pw, pa, pt, p.c * p.outC, alpha, r);
  const dW = heap.f32(pw, n).slice();
  [px, pz, pa, sums, ps, pw, pt].forEach((ptr) => heap.free(ptr));
  return dW;
}

Deno.test("conv2dWinogradFilterGrad matches the direct kernel gradient: 3×3 (α 6) and 5×5 (α 8), odd sizes, batch 1 and 3, chunks, accumulation", () => {
  const rng = new Rng(91);
  let cases = 0;
  // [m, r] of the plans Conv2D's kernel gradient takes.
  const plans: [number, number][] = [[4, 3], [4, 5]];
  for (const [m, r] of plans) {
    for (const [h, w, c, outC] of [[9, 13, 4, 8], [16, 16, 32, 12], [5, 7, 12, 4]]) {
      for (const padding of ["same", "valid"] as const) {
        for (const batch of [1, 3]) {
          const p = conv2dParams(batch, [h, w, c], outC, [r, r], [1, 1], [1, 1], padding);
          if (p.outH === 0 || p.outW === 0) continue;
          const x = rng.floats(batch * h * w * c, -1, 1);
          const dz = rng.floats(batch * p.outH * p.outW * outC, -1, 1);
          const want = conv2dFilterGradReference(x, dz, p);
          const tiles = batch * Math.ceil(p.outH / m) * Math.ceil(p.outW / m);
          for (const chunk of [tiles, 1, 5]) {
            const what =
              `F(${r}, ${m}) ${h}×${w}×${c}→${outC} ${padding} batch ${batch} chunk ${chunk}`;
            // Sums of up to 768 products of ±1 values through float32 transforms: measured
            // 3–9e-6 of dW's scale (the direct float32 sum: about 1e-6).
            assertCloseToScale(runFilterGrad(x, dz, p, m, chunk), want, 2e-5, what, 1);
            cases++;
          }
          // A second call adds its sums to the first's: twice the gradient.
          const twice = runFilterGrad(x, dz, p, m, 5, 2);
          assertCloseToScale(twice, want.map((v) => 2 * v), 2e-5, `accumulated ${m}, ${r}`, 1);
        }
      }
    }
  }
  if (cases < 60) throw new Error(`only ${cases} cases ran`);
});
