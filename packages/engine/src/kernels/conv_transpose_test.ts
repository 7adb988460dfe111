import { type Activation, ActivationCode } from "../activations.ts";
import type { Padding } from "../conv_geometry.ts";
import { transposeAxisGeometry } from "../conv_transpose_geometry.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { assertCloseToScale } from "../../testing/assert.ts";
import {
  conv2dTransposeFilterGradReference,
  conv2dTransposeInputGradReference,
  conv2dTransposeReference,
  type ConvTranspose2DParams,
} from "./conv_transpose_reference.ts";

interface Case {
  batch: number;
  h: number;
  w: number;
  c: number;
  filters: number;
  k: [number, number];
  s: [number, number];
  d: [number, number];
  padding: Padding;
  /** Keras `output_padding` (null: none). */
  op: [number, number] | null;
}

function params(t: Case): ConvTranspose2DParams {
  const gy = transposeAxisGeometry(t.h, t.k[0], t.s[0], t.d[0], t.padding, t.op?.[0] ?? null);
  const gx = transposeAxisGeometry(t.w, t.k[1], t.s[1], t.d[1], t.padding, t.op?.[1] ?? null);
  return {
    batch: t.batch,
    h: t.h,
    w: t.w,
    c: t.c,
    outH: gy.out,
    outW: gx.out,
    filters: t.filters,
    kh: t.k[0],
    kw: t.k[1],
    strides: t.s,
    dilation: t.d,
    padTop: gy.padBefore,
    padLeft: gx.padBefore,
  };
}

/** The geometry arguments of the conv-transpose kernels, in kernel order. */
function args(p: ConvTranspose2DParams) {
  return [
    p.batch,
    p.h,
    p.w,
    p.c,
    p.outH,
    p.outW,
    p.filters,
    p.kh,
    p.kw,
    p.strides[0],
    p.strides[1],
    p.dilation[0],
    p.dilation[1],
    p.padTop,
    p.padLeft,
  ] as const;
}

const RELU: Activation = { kind: "elementwise", code: ActivationCode.Relu, alpha: 0, name: "relu" };
const TANH: Activation = { kind: "elementwise", code: ActivationCode.Tanh, alpha: 0, name: "tanh" };

/** Forward (with bias + activation) and backward against the references at one scratch size. */
function check(t: Case, rng: Rng, scratchFloats: number, act: Activation) {
  const { kernels, heap } = getRuntime();
  const p = params(t);
  const kSize = p.kh * p.kw * p.filters * p.c;
  const x = rng.floats(p.batch * p.h * p.w * p.c);
  const kernel = rng.floats(kSize);
  const bias = rng.floats(p.filters);
  const yLen = p.batch * p.outH * p.outW * p.filters;
  const dz = rng.floats(yLen);
  const px = heap.upload(x), pk = heap.upload(kernel), pb = heap.upload(bias);
  const pdz = heap.upload(dz);
  // Stale values: every output must be overwritten.
  const py = heap.upload(rng.floats(yLen, 5, 6));
  const pdx = heap.upload(rng.floats(x.length, 5, 6));
  const pdw = heap.upload(rng.floats(kSize, 5, 6));
  const scratch = heap.alloc(scratchFloats * 4);
  const what =
    `conv transpose ${JSON.stringify(t)} → ${p.outH}×${p.outW} pad ${p.padTop},${p.padLeft}` +
    ` scratch ${scratchFloats} ${act.name}`;
  const code = act.kind === "elementwise" ? act.code : 0;
  try {
    kernels.conv2dTranspose(px, pk, pb, py, scratch, scratchFloats, ...args(p), code, 0);
    assertCloseToScale(
      heap.f32(py, yLen),
      conv2dTransposeReference(x, kernel, bias, p, act),
      1e-5,
      `${what} y`,
    );
    // No bias.
    kernels.conv2dTranspose(px, pk, 0, py, scratch, scratchFloats, ...args(p), 0, 0);
    assertCloseToScale(
      heap.f32(py, yLen),
      conv2dTransposeReference(x, kernel, null, p),
      1e-5,
      `${what} y (no bias)`,
    );
    kernels.conv2dTransposeBackward(px, pdz, pk, pdx, pdw, scratch, scratchFloats, ...args(p));
    assertCloseToScale(
      heap.f32(pdx, x.length),
      conv2dTransposeInputGradReference(dz, kernel, p),
      1e-5,
      `${what} dx`,
    );
    assertCloseToScale(
      heap.f32(pdw, kSize),
      conv2dTransposeFilterGradReference(x, dz, p),
      1e-5,
      `${what} dW`,
    );
  } finally {
    [px, pk, pb, pdz, py, pdx, pdw, scratch].forEach((q) => heap.free(q));
  }
}

/** Every Keras-legal combination: output_padding < stride, stride > 1 only with dilation 1. */
const CASES: Case[] = [];
{
  const shapes: [number, number, number, number, number][] = [
    // batch, h, w, c, filters (odd sizes; ≥ 8 filters takes the stride-1 convolution path).
    [1, 5, 7, 3, 5],
    [17, 4, 3, 6, 9],
  ];
  const kernelsAt: [number, number][] = [[3, 3], [2, 4], [1, 1], [5, 2]];
  let i = 0;
  for (const padding of ["valid", "same"] as Padding[]) {
    for (const s of [[1, 1], [2, 2], [3, 2], [2, 5]] as [number, number][]) {
      const ops: ([number, number] | null)[] = [null];
      for (let a = 0; a < s[0]; a++) for (let b = 0; b < s[1]; b++) ops.push([a, b]);
      const dils: [number, number][] = s[0] === 1 && s[1] === 1 ? [[1, 1], [2, 3]] : [[1, 1]];
      for (const op of ops) {
        for (const d of dils) {
          const [batch, h, w, c, filters] = shapes[i % shapes.length];
          CASES.push({
            batch,
            h,
            w,
            c,
            filters,
            k: kernelsAt[i % kernelsAt.length],
            s,
            d,
            padding,
            op,
          });
          i++;
        }
      }
    }
  }
}

Deno.test("conv2dTranspose matches the reference: every padding × stride × dilation × output_padding", () => {
  const rng = new Rng(1501);
  for (const [i, t] of CASES.entries()) check(t, rng, 1 << 16, i % 2 ? RELU : TANH);
});

Deno.test("conv2dTranspose: stride 1 with ≥ 8 filters (flipped convolution), stride > kernel, least scratch", () => {
  const { kernels } = getRuntime();
  const rng = new Rng(1502);
  const cases: Case[] = [
    {
      batch: 3,
      h: 6,
      w: 5,
      c: 4,
      filters: 9,
      k: [3, 3],
      s: [1, 1],
      d: [1, 1],
      padding: "same",
      op: null,
    },
    {
      batch: 2,
      h: 5,
      w: 6,
      c: 7,
      filters: 8,
      k: [3, 2],
      s: [1, 1],
      d: [2, 2],
      padding: "valid",
      op: null,
    },
    {
      batch: 17,
      h: 3,
      w: 3,
      c: 5,
      filters: 12,
      k: [2, 2],
      s: [1, 1],
      d: [1, 1],
      padding: "same",
      op: [0, 0],
    },
    // Stride larger than the kernel: gaps between windows (cells that hold only the bias).
    {
      batch: 2,
      h: 4,
      w: 3,
      c: 3,
      filters: 5,
      k: [2, 1],
      s: [3, 4],
      d: [1, 1],
      padding: "valid",
      op: null,
    },
    {
      batch: 2,
      h: 4,
      w: 3,
      c: 3,
      filters: 5,
      k: [2, 1],
      s: [3, 4],
      d: [1, 1],
      padding: "same",
      op: [2, 1],
    },
    // 1×1 input, large kernel.
    {
      batch: 1,
      h: 1,
      w: 1,
      c: 2,
      filters: 3,
      k: [4, 3],
      s: [2, 2],
      d: [1, 1],
      padding: "same",
      op: null,
    },
    // Beyond what Keras accepts (stride and dilation together): the kernel still follows the rule.
    {
      batch: 2,
      h: 4,
      w: 5,
      c: 3,
      filters: 4,
      k: [3, 2],
      s: [2, 3],
      d: [2, 2],
      padding: "same",
      op: [1, 2],
    },
  ];
  for (const t of cases) {
    const fwdMin = kernels.conv2dTransposeMinScratch(t.k[0], t.k[1], t.c, t.filters);
    const bwdMin = kernels.conv2dTransposeBackwardMinScratch(t.k[0], t.k[1], t.filters);
    check(t, rng, 1 << 16, RELU);
    check(t, rng, Math.max(fwdMin, bwdMin), RELU);
    check(t, rng, Math.max(fwdMin, bwdMin) + 37, TANH);
  }
});

Deno.test("transposeAxisGeometry follows Keras's compute_conv_transpose_output_shape", () => {
  const cases: [Parameters<typeof transposeAxisGeometry>, number, number][] = [
    // [len, k, stride, dilation, padding, output_padding] → out, padBefore
    [[5, 3, 1, 1, "valid", null], 7, 0],
    [[5, 3, 2, 1, "valid", null], 11, 0],
    [[5, 2, 3, 1, "valid", null], 15, 0], // in·stride when the stride exceeds the kernel
    [[5, 3, 2, 1, "valid", 1], 12, 0],
    [[5, 3, 1, 2, "valid", null], 9, 0],
    [[5, 3, 1, 1, "same", null], 5, 1],
    [[5, 3, 2, 1, "same", null], 10, 0],
    [[5, 4, 2, 1, "same", null], 10, 1],
    [[5, 5, 2, 1, "same", null], 10, 1],
    [[5, 3, 2, 1, "same", 0], 9, 1],
    [[5, 3, 2, 1, "same", 1], 10, 0],
    [[5, 4, 3, 1, "same", 2], 14, 1],
    [[5, 3, 1, 2, "same", null], 5, 2],
  ];
  for (const [a, out, pad] of cases) {
    const g = transposeAxisGeometry(...a);
    if (g.out !== out || g.padBefore !== pad) {
      throw new Error(`${JSON.stringify(a)}: got ${JSON.stringify(g)}, want out ${out} pad ${pad}`);
    }
  }
});

/**
 * Keras states the `same`/`valid` split once, backend-free, as explicit paddings of the
 * stride-dilated input (its JAX/Torch/MLX backends use them; the TF backend passes the output
 * shape to TensorFlow instead, which refuses the shapes where the two could differ): `valid` pads
 * k' − 1 on the left and k' − 1 + output_padding on the right (output_padding defaulting to
 * max(k', s) − k'); `same` pads a total of s + k' − 2 (no output_padding) or k' + k' % 2 − 2 +
 * output_padding, the left part being min(⌈total / 2⌉, k' − 1). The crop is then k' − 1 − left.
 */
function kerasExplicitPadding(
  len: number,
  span: number,
  stride: number,
  padding: Padding,
  outputPadding: number | null,
): { out: number; padBefore: number } {
  let left: number, right: number;
  if (padding === "valid") {
    left = span - 1;
    right = span - 1 + (outputPadding ?? Math.max(span, stride) - span);
  } else {
    const total = outputPadding === null
      ? stride + span - 2
      : span + (span % 2) - 2 + outputPadding;
    left = Math.min(Math.ceil(total / 2), span - 1);
    right = total - left;
  }
  return { out: (len - 1) * stride + left + right - span + 2, padBefore: span - 1 - left };
}

Deno.test("transposeAxisGeometry equals Keras's explicit (backend-free) padding rule everywhere", () => {
  let n = 0;
  for (let k = 1; k <= 6; k++) {
    for (const d of [1, 2, 3]) {
      for (let s = 1; s <= 5; s++) {
        for (const op of [null, 0, 1, 2, 3, 4]) {
          if (op !== null && op >= s) continue;
          for (const padding of ["valid", "same"] as Padding[]) {
            for (let len = 1; len <= 7; len++) {
              const got = transposeAxisGeometry(len, k, s, d, padding, op);
              const want = kerasExplicitPadding(len, d * (k - 1) + 1, s, padding, op);
              if (got.out !== want.out || got.padBefore !== want.padBefore) {
                throw new Error(
                  `len ${len} k ${k} d ${d} s ${s} op ${op} ${padding}: got ${
                    JSON.stringify(got)
                  }, want ${JSON.stringify(want)}`,
                );
              }
              n++;
            }
          }
        }
      }
    }
  }
  if (n < 1000) throw new Error(`only ${n} cases`);
});
