import { getRuntime } from "../wasm/kernels.ts";
import { ActivationCode } from "../activations.ts";
import { maxAbsDiff, Rng } from "../../testing/random.ts";
import { assertClose } from "../../testing/assert.ts";
import { gateCount, MERGE_CODES, RnnCell, RnnFlag } from "./rnn_codes.ts";
import { mergeReference, reverseTimeReference, rnnReference } from "./rnn_reference.ts";
import { gemmReference } from "./gemm_reference.ts";

type MaskKind = "none" | "post" | "middle" | "empty-row";

/** [batch, time] masks: post-padding of random lengths, holes in the middle, a fully masked row. */
function makeMask(rng: Rng, kind: MaskKind, batch: number, time: number): Int32Array | null {
  if (kind === "none") return null;
  const m = new Int32Array(batch * time);
  for (let b = 0; b < batch; b++) {
    const len = rng.int(1, time + 1);
    for (let t = 0; t < time; t++) {
      let keep = kind === "middle" ? rng.next() < 0.6 : t < len;
      if (kind === "empty-row" && b === batch - 1) keep = false;
      m[b * time + t] = keep ? 1 : 0;
    }
  }
  return m;
}

interface Case {
  cell: RnnCell;
  batch: number;
  time: number;
  inDim: number;
  units: number;
  useBias: boolean;
  mask: MaskKind;
  goBackwards: boolean;
  returnSequences: boolean;
  zeroOutputForMask: boolean;
  act?: ActivationCode;
  recAct?: ActivationCode;
}

/**
 * How a case gives the kernel its input: x itself, or its projection x·kernel + bias
 * (`RnnFlag.Projected`) made by the `gemm` kernel or in float64 here.
 */
type Projection = "none" | "gemm" | "float64";

/**
 * The input projection x·kernel + bias ([rows, g]; GRU reset_after: the bias's input row) in
 * float64, rounded once.
 */
function projectReference(
  x: Float32Array,
  kernel: Float32Array,
  bias: Float32Array | null,
  rows: number,
  inDim: number,
  g: number,
): Float32Array {
  const out = new Float32Array(rows * g);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < g; j++) {
      let acc = bias ? bias[j] : 0;
      for (let k = 0; k < inDim; k++) acc += x[r * inDim + k] * kernel[k * g + j];
      out[r * g + j] = acc;
    }
  }
  return out;
}

/**
 * Runs the kernel for one case; `reverse`/`rowStride` exercise the Bidirectional write path,
 * `projection` the projected input.
 */
function runCase(rng: Rng, c: Case, reverse = false, pad = 0, projection: Projection = "none") {
  const { kernels, heap } = getRuntime();
  const g = gateCount(c.cell) * c.units;
  const x = rng.floats(c.batch * c.time * c.inDim, -1.5, 1.5);
  const kernel = rng.floats(c.inDim * g, -0.6, 0.6);
  const rec = rng.floats(c.units * g, -0.6, 0.6);
  const biasLen = c.cell === RnnCell.GRUResetAfter ? 2 * g : g;
  const bias = c.useBias ? rng.floats(biasLen, -0.5, 0.5) : null;
  const mask = makeMask(rng, c.mask, c.batch, c.time);
  const act = c.act ?? ActivationCode.Tanh, recAct = c.recAct ?? ActivationCode.Sigmoid;
  const want = rnnReference({
    cell: c.cell,
    x,
    batch: c.batch,
    time: c.time,
    inDim: c.inDim,
    units: c.units,
    kernel,
    recurrentKernel: rec,
    bias,
    mask,
    activation: act,
    recurrentActivation: recAct,
    goBackwards: c.goBackwards,
    returnSequences: c.returnSequences,
    zeroOutputForMask: c.zeroOutputForMask,
  });
  const rowStride = c.units + pad;
  const rows = c.returnSequences ? c.batch * c.time : c.batch;
  const px = heap.upload(x), pk = heap.upload(kernel), pr = heap.upload(rec);
  const pb = bias ? heap.upload(bias) : 0;
  const pm = mask ? heap.upload(mask) : 0;
  const py = heap.alloc(rows * rowStride * 4);
  heap.f32(py, rows * rowStride).fill(NaN);
  const workTime = projection === "none" ? c.time : 0; // a projected run needs no projection
  const workBytes = kernels.rnnWorkspaceBytes(c.cell, c.batch, workTime, c.units);
  // 16 guard floats after the workspace: the kernel must stay within its size.
  const work = heap.alloc(workBytes + 64);
  heap.f32(work + workBytes, 16).fill(-7);
  const flags = (c.goBackwards ? RnnFlag.GoBackwards : 0) |
    (c.returnSequences ? RnnFlag.ReturnSequences : 0) |
    (c.zeroOutputForMask ? RnnFlag.ZeroOutputForMask : 0) | (reverse ? RnnFlag.ReverseOutput : 0) |
    (projection === "none" ? 0 : RnnFlag.Projected);
  // The projected input, NaN-padded past its end: the kernel must read none of it.
  let pxp = 0;
  if (projection !== "none") {
    const n = c.batch * c.time * g;
    pxp = heap.alloc((n + 8) * 4);
    heap.f32(pxp, n + 8).fill(NaN);
    if (projection === "gemm") {
      kernels.gemm(px, pk, pb, pxp, c.batch * c.time, g, c.inDim, ActivationCode.Linear, 0);
    } else {
      heap.f32(pxp, n).set(projectReference(x, kernel, bias, c.batch * c.time, c.inDim, g));
    }
  }
  // The row path's blocks of the recurrent kernel, where it takes the units (the steps of at most
  // two rows read them; larger batches only at their last running rows).
  const rowBytes = kernels.rnnRowKernelBytes(c.cell, c.units);
  const rowKernel = rowBytes ? heap.alloc(rowBytes) : 0;
  if (rowKernel) kernels.rnnPackRowKernel(c.cell, pr, c.units, rowKernel);
  kernels.rnnSequence(
    c.cell,
    pxp || px,
    c.batch,
    c.time,
    pxp ? g : c.inDim,
    c.units,
    pxp ? 0 : pk,
    pr,
    pxp ? 0 : pb,
    c.cell === RnnCell.GRUResetAfter && pb ? pb + g * 4 : 0,
    pm,
    act,
    0,
    recAct,
    0,
    flags,
    py,
    rowStride,
    0,
    0,
    0,
    0,
    work,
    rowKernel,
    0,
    0,
  );
  if (rowKernel) heap.free(rowKernel);
  const all = heap.f32(py, rows * rowStride);
  const got = new Float32Array(rows * c.units);
  for (let r = 0; r < rows; r++) {
    got.set(all.subarray(r * rowStride, r * rowStride + c.units), r * c.units);
  }
  for (let r = 0; r < rows; r++) {
    for (let j = c.units; j < rowStride; j++) {
      if (!Number.isNaN(all[r * rowStride + j])) throw new Error("wrote outside its columns");
    }
  }
  if (heap.f32(work + workBytes, 16).some((v) => v !== -7)) {
    throw new Error("wrote past its workspace");
  }
  [px, pk, pr, pb, pm, py, work, pxp].forEach((p) => heap.free(p));
  return { got, want: reverse ? reverseTimeReference(want, c.batch, c.time, c.units) : want };
}

const CELLS = [RnnCell.SimpleRNN, RnnCell.LSTM, RnnCell.GRU, RnnCell.GRUResetAfter];

Deno.test("rnnSequence matches the reference: every cell, masks, go_backwards, return_sequences", () => {
  const rng = new Rng(101);
  let n = 0;
  for (const cell of CELLS) {
    for (const batch of [1, 17]) {
      for (const mask of ["none", "post", "middle", "empty-row"] as MaskKind[]) {
        if (batch === 1 && mask === "empty-row") continue;
        for (const goBackwards of [false, true]) {
          for (const returnSequences of [false, true]) {
            for (const zeroOutputForMask of mask === "none" ? [false] : [false, true]) {
              const c: Case = {
                cell,
                batch,
                time: rng.int(1, 9),
                inDim: [1, 5, 7, 13][rng.int(0, 4)],
                units: [1, 3, 5, 6, 9, 11][rng.int(0, 6)],
                useBias: rng.next() < 0.8,
                mask,
                goBackwards,
                returnSequences,
                zeroOutputForMask,
              };
              const { got, want } = runCase(rng, c);
              assertClose(got, want, 1e-5, `case ${JSON.stringify(c)}`);
              n++;
            }
          }
        }
      }
    }
  }
  if (n !== 192) throw new Error(`${n} cases ran, expected 192`);
});

Deno.test("rnnSequence on a projected input (RnnFlag.Projected) matches the reference, and equals the unprojected run bit for bit when gemm made the projection", () => {
  let n = 0;
  for (const cell of CELLS) {
    for (const batch of [1, 6]) {
      for (const mask of ["none", "post", "middle"] as MaskKind[]) {
        for (const goBackwards of [false, true]) {
          const seed = 700 + n;
          const pick = new Rng(seed);
          const c: Case = {
            cell,
            batch,
            time: pick.int(1, 12),
            inDim: [1, 5, 7, 13][pick.int(0, 4)],
            units: [1, 3, 5, 6, 9, 11][pick.int(0, 6)],
            useBias: pick.next() < 0.8,
            mask,
            goBackwards,
            returnSequences: pick.next() < 0.5,
            zeroOutputForMask: pick.next() < 0.5,
          };
          const plain = runCase(new Rng(seed), c);
          const viaGemm = runCase(new Rng(seed), c, false, 0, "gemm");
          const viaFloat64 = runCase(new Rng(seed), c, false, 0, "float64");
          const what = `case ${JSON.stringify(c)}`;
          assertClose(viaFloat64.got, viaFloat64.want, 1e-5, what);
          assertClose(viaGemm.got, plain.want, 1e-5, what);
          if (!viaGemm.got.every((v, i) => Object.is(v, plain.got[i]))) {
            throw new Error(`${what}: projected run differs from the unprojected one`);
          }
          n++;
        }
      }
    }
  }
  if (n !== 48) throw new Error(`${n} cases ran, expected 48`);
});

/** One rnnSequence call on host arrays (return_sequences); returns [batch, time, units]. */
function runSequence(
  cell: RnnCell,
  x: Float32Array,
  [batch, time, inDim, units]: number[],
  weights: { kernel: Float32Array; rec: Float32Array; bias: Float32Array | null },
  mask: Int32Array | null,
  flags: number,
  act: ActivationCode,
  recAct: ActivationCode,
  packRowKernel = false,
): Float32Array {
  const { kernels, heap } = getRuntime();
  const g = gateCount(cell) * units;
  const px = heap.upload(x), pk = heap.upload(weights.kernel), pr = heap.upload(weights.rec);
  const rowBytes = packRowKernel ? kernels.rnnRowKernelBytes(cell, units) : 0;
  const rowKernel = rowBytes ? heap.alloc(rowBytes) : 0;
  if (rowKernel) kernels.rnnPackRowKernel(cell, pr, units, rowKernel);
  const pb = weights.bias ? heap.upload(weights.bias) : 0;
  const pm = mask ? heap.upload(mask) : 0;
  const py = heap.alloc(batch * time * units * 4);
  const work = heap.alloc(kernels.rnnWorkspaceBytes(cell, batch, time, units));
  const recBias = cell === RnnCell.GRUResetAfter && pb ? pb + g * 4 : 0;
  kernels.rnnSequence(
    cell,
    px,
    batch,
    time,
    inDim,
    units,
    pk,
    pr,
    pb,
    recBias,
    pm,
    act,
    0,
    recAct,
    0,
    flags | RnnFlag.ReturnSequences,
    py,
    units,
    0,
    0,
    0,
    0,
    work,
    rowKernel,
    0,
    0,
  );
  const y = heap.f32(py, batch * time * units).slice();
  [px, pk, pr, pb, pm, py, work, rowKernel].forEach((p) => p && heap.free(p));
  return y;
}

Deno.test("rnnSequence: a step of one or two rows (the row path, units a multiple of 4) equals the same rows in a batch (the GEMM path) bit for bit, and the reference", () => {
  const rng = new Rng(77);
  let n = 0;
  for (const cell of CELLS) {
    // Rows read the recurrent kernel in 32- and 4-column blocks: unit counts whose gate ranges
    // end in 4-column blocks (GRU's z|r range and h range are blocked apart), one of 32 only.
    for (const units of [4, 8, 20, 36, 44, 64]) {
      for (const mask of ["none", "post", "middle"] as MaskKind[]) {
        const [batch, time, inDim] = [5, rng.int(2, 9), [3, 8, 13][rng.int(0, 3)]];
        const g = gateCount(cell) * units;
        const x = rng.floats(batch * time * inDim, -1.5, 1.5);
        const weights = {
          kernel: rng.floats(inDim * g, -0.6, 0.6),
          rec: rng.floats(units * g, -0.6, 0.6),
          bias: rng.next() < 0.8
            ? rng.floats(cell === RnnCell.GRUResetAfter ? 2 * g : g, -0.5, 0.5)
            : null,
        };
        const m = makeMask(rng, mask, batch, time);
        const goBackwards = rng.next() < 0.5;
        const [act, recAct] = n % 5 === 4
          ? [ActivationCode.Relu, ActivationCode.HardSigmoid]
          : [ActivationCode.Tanh, ActivationCode.Sigmoid];
        const flags = goBackwards ? RnnFlag.GoBackwards : 0;
        const whole = runSequence(
          cell,
          x,
          [batch, time, inDim, units],
          weights,
          m,
          flags,
          act,
          recAct,
        );
        const what = `${RnnCell[cell]} units ${units} mask ${mask}`;
        const want = rnnReference({
          cell,
          x,
          batch,
          time,
          inDim,
          units,
          kernel: weights.kernel,
          recurrentKernel: weights.rec,
          bias: weights.bias,
          mask: m,
          activation: act,
          recurrentActivation: recAct,
          goBackwards,
          returnSequences: true,
        });
        const scale = Math.max(1, ...Array.from(want, Math.abs));
        assertClose(whole, want, 1e-5 * scale, what);
        for (let b = 0; b < batch; b++) {
          // Row by row on the recurrent kernel as it is (odd rows) or in its blocks (even rows).
          const one = runSequence(
            cell,
            x.subarray(b * time * inDim, (b + 1) * time * inDim),
            [1, time, inDim, units],
            weights,
            m ? m.subarray(b * time, (b + 1) * time) : null,
            flags,
            act,
            recAct,
            b % 2 === 0,
          );
          const row = whole.subarray(b * time * units, (b + 1) * time * units);
          if (!one.every((v, i) => Object.is(v, row[i]))) {
            throw new Error(
              `${what}: row ${b} alone differs from the batch's (max |Δ| ${maxAbsDiff(one, row)})`,
            );
          }
        }
        // Two rows at once (rows 1 and 2): the row path for each, on the kernel's blocks.
        const two = runSequence(
          cell,
          x.subarray(time * inDim, 3 * time * inDim),
          [2, time, inDim, units],
          weights,
          m ? m.subarray(time, 3 * time) : null,
          flags,
          act,
          recAct,
          true,
        );
        const rows = whole.subarray(time * units, 3 * time * units);
        if (!two.every((v, i) => Object.is(v, rows[i]))) {
          throw new Error(
            `${what}: rows 1-2 alone differ from the batch's (max |Δ| ${maxAbsDiff(two, rows)})`,
          );
        }
        n++;
      }
    }
  }
  if (n !== 72) throw new Error(`${n} cases ran, expected 72`);
});

Deno.test("rnnSequence with other activations, longer sequences and wider layers", () => {
  const rng = new Rng(5);
  const acts: [ActivationCode, ActivationCode][] = [
    [ActivationCode.Relu, ActivationCode.HardSigmoid],
    [ActivationCode.Linear, ActivationCode.HardSigmoidKeras2],
    [ActivationCode.Softsign, ActivationCode.Sigmoid],
    [ActivationCode.Elu, ActivationCode.HardSigmoid],
  ];
  for (const cell of CELLS) {
    for (const [act, recAct] of acts) {
      const c: Case = {
        cell,
        batch: 17,
        time: 23,
        inDim: 19,
        units: 21,
        useBias: true,
        mask: "post",
        goBackwards: rng.next() < 0.5,
        returnSequences: true,
        zeroOutputForMask: false,
        act,
        recAct,
      };
      const { got, want } = runCase(rng, c);
      // Linear/relu cells can grow; compare relative to the output's scale.
      const scale = Math.max(1, ...Array.from(want, Math.abs));
      assertClose(got, want, 1e-5 * scale, `${RnnCell[cell]} ${ActivationCode[act]}`);
    }
  }
});

Deno.test("rnnSequence writes strided, time-reversed rows (the Bidirectional concat path)", () => {
  const rng = new Rng(9);
  for (const cell of CELLS) {
    for (const returnSequences of [true, false]) {
      const c: Case = {
        cell,
        batch: 17,
        time: 7,
        inDim: 5,
        units: 7,
        useBias: true,
        mask: "middle",
        goBackwards: true,
        returnSequences,
        zeroOutputForMask: true,
      };
      const { got, want } = runCase(rng, c, returnSequences, 6);
      assertClose(got, want, 1e-5, `${RnnCell[cell]} reversed, strided`);
    }
  }
});

Deno.test("a masked step keeps the state and repeats the output (zeros before the first real step)", () => {
  const rng = new Rng(12);
  const { kernels, heap } = getRuntime();
  const [batch, time, inDim, units] = [2, 5, 3, 5];
  const g = 4 * units;
  const x = rng.floats(batch * time * inDim);
  const mask = Int32Array.from([0, 1, 0, 1, 0, /* row 2 */ 1, 1, 1, 0, 0]);
  const px = heap.upload(x), pk = heap.upload(rng.floats(inDim * g));
  const pr = heap.upload(rng.floats(units * g)), pm = heap.upload(mask);
  const py = heap.alloc(batch * time * units * 4);
  const work = heap.alloc(kernels.rnnWorkspaceBytes(RnnCell.LSTM, batch, time, units));
  kernels.rnnSequence(
    RnnCell.LSTM,
    px,
    batch,
    time,
    inDim,
    units,
    pk,
    pr,
    0,
    0,
    pm,
    ActivationCode.Tanh,
    0,
    ActivationCode.Sigmoid,
    0,
    RnnFlag.ReturnSequences,
    py,
    units,
    0,
    0,
    0,
    0,
    work,
    0,
    0,
    0,
  );
  const y = heap.f32(py, batch * time * units).slice();
  [px, pk, pr, pm, py, work].forEach((p) => heap.free(p));
  const row = (b: number, t: number) =>
    y.subarray((b * time + t) * units, (b * time + t + 1) * units);
  if (row(0, 0).some((v) => v !== 0)) throw new Error("output before the first real step is not 0");
  if (maxAbsDiff(row(0, 2), row(0, 1)) !== 0) throw new Error("masked step does not repeat");
  if (maxAbsDiff(row(1, 4), row(1, 2)) !== 0) throw new Error("trailing padding does not repeat");
  if (maxAbsDiff(row(0, 3), row(0, 1)) === 0) throw new Error("unmasked step did not update");
});

/**
 * rnnPackRowKernel's layout, in plain TypeScript: per column range the row path blocks (GRU
 * reset_after false: z|r, then h; other cells: every gate column), blocks of 32 columns while
 * they fit, then of 4, each block its `units` rows one after the other; the block of columns
 * starting at column j begins at float j·units.
 */
function packRowKernelReference(cell: RnnCell, rec: Float32Array, units: number): Float32Array {
  const g = gateCount(cell) * units;
  const out = new Float32Array(units * g);
  const ranges = cell === RnnCell.GRU ? [[0, 2 * units], [2 * units, units]] : [[0, g]];
  for (const [j0, n] of ranges) {
    for (let j = 0; j < n;) {
      const width = j + 32 <= n ? 32 : 4;
      const at = (j0 + j) * units;
      for (let r = 0; r < units; r++) {
        for (let c = 0; c < width; c++) out[at + r * width + c] = rec[r * g + j0 + j + c];
      }
      j += width;
    }
  }
  return out;
}

Deno.test("rnnPackRowKernel: the row path's blocks of the recurrent kernel = the reference layout; no blocks for units the row path does not take", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(12);
  for (const cell of CELLS) {
    for (const units of [4, 12, 20, 36, 64, 100, 256]) {
      const g = gateCount(cell) * units;
      const rec = rng.floats(units * g, -1, 1);
      const bytes = kernels.rnnRowKernelBytes(cell, units);
      if (bytes < units * g * 4) throw new Error(`${RnnCell[cell]} ${units}: ${bytes} bytes`);
      const pr = heap.upload(rec);
      // Guard floats after the blocks: the kernel must write within its size.
      const dst = heap.alloc(bytes + 64);
      heap.f32(dst, bytes / 4 + 16).fill(-7);
      kernels.rnnPackRowKernel(cell, pr, units, dst);
      const got = heap.f32(dst, units * g);
      const want = packRowKernelReference(cell, rec, units);
      if (!got.every((v, i) => Object.is(v, want[i]))) {
        throw new Error(`${RnnCell[cell]} units ${units}: blocks differ from the reference`);
      }
      if (heap.f32(dst + bytes, 16).some((v) => v !== -7)) throw new Error("wrote past its size");
      heap.free(pr);
      heap.free(dst);
    }
    for (const units of [1, 6, 10, 260]) {
      if (kernels.rnnRowKernelBytes(cell, units) !== 0) {
        throw new Error(`${RnnCell[cell]} ${units}: the row path does not take these units`);
      }
    }
  }
});

Deno.test("rnnMerge: sum, mul, ave on odd lengths", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(4);
  for (const n of [1, 3, 17, 130]) {
    for (const mode of ["sum", "mul", "ave"] as const) {
      const a = rng.floats(n), b = rng.floats(n);
      const pa = heap.upload(a), pb = heap.upload(b);
      kernels.rnnMerge(pa, pb, n, MERGE_CODES[mode]);
      assertClose(heap.f32(pa, n), mergeReference(a, b, n, mode), 1e-7, `${mode} n=${n}`);
      heap.free(pa);
      heap.free(pb);
    }
  }
});

Deno.test("rnnRowProduct: the packed batch-1 recurrent product equals gemm's m = 1 row bit for bit and the plain sum", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(91);
  for (const cell of [RnnCell.SimpleRNN, RnnCell.LSTM]) {
    // Units a multiple of 4 (the row path's), with gate columns below, at and past 32-wide blocks.
    for (const units of [4, 12, 36, 64, 100, 256]) {
      const n = gateCount(cell) * units;
      const h = rng.floats(units, -1, 1), rec = rng.floats(units * n, -0.5, 0.5);
      const ph = heap.upload(h), pr = heap.upload(rec);
      const packed = heap.alloc(kernels.rnnRowKernelBytes(cell, units));
      const pc = heap.alloc(n * 4), pg = heap.alloc(n * 4);
      try {
        kernels.rnnPackRowKernel(cell, pr, units, packed);
        kernels.rnnRowProduct(ph, packed, units, n, pc);
        kernels.gemm(ph, pr, 0, pg, 1, n, units, ActivationCode.Linear, 0);
        const got = heap.f32(pc, n).slice(), viaGemm = heap.f32(pg, n);
        for (let j = 0; j < n; j++) {
          if (got[j] !== viaGemm[j]) {
            throw new Error(
              `cell ${cell}, units ${units}, column ${j}: ${got[j]} vs gemm ${viaGemm[j]}`,
            );
          }
        }
        assertClose(
          got,
          gemmReference(h, rec, null, 1, n, units),
          1e-5,
          `cell ${cell}, units ${units}`,
        );
      } finally {
        for (const p of [ph, pr, packed, pc, pg]) heap.free(p);
      }
    }
  }
});
