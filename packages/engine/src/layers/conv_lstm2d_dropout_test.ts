/**
 * ConvLSTM2D cell `dropout` / `recurrent_dropout` in training, against the float64 reference
 * (`conv_lstm2d_reference.ts`) given the masks the layer drew (read back from its tape): the
 * training forward (output, final h and c), every gradient (x, kernel, recurrent kernel, bias,
 * h0, c0) against central finite differences of the reference's loss with the masks held fixed,
 * the masks themselves (four per family, distinct per gate, one per sequence, drawn by sample
 * index so worker slices draw a single thread's), inference ignoring them, and `fit` (the loss
 * falls; 2 threads equal 1). Odd sizes, batch 1 and 3, both directions, both output forms.
 */
import { buildModel, getRuntime, SGD, Tensor } from "../../mod.ts";
import { ActivationCode } from "../activations.ts";
import { LayerConfigError } from "../errors.ts";
import type { BackwardArgs, TrainContext } from "../layer_training.ts";
import type { DeviceTensor } from "../tensor.ts";
import { randomSpec, relativeError } from "../../testing/gradient_check.ts";
import { Rng } from "../../testing/random.ts";
import { startedTrainingWorkers } from "../training/parallel/pool.ts";
import { CONV_LSTM2D, ConvLSTM2D, type ConvLstmTape } from "./conv_lstm2d.ts";
import { convLstm2dReference64, type ConvLstm2dReferenceArgs } from "./conv_lstm2d_reference.ts";

/** Logs a measured value when REPORT_ERRORS is set (for reports; tests stay quiet otherwise). */
const report = (what: string, v: number) => {
  if (Deno.env.get("REPORT_ERRORS")) console.log(`${what}: ${v.toExponential(2)}`);
};

const RATE_IN = 0.3, RATE_REC = 0.4;

/** One layer-level case: odd frame sizes, 5 channels, 3 filters. */
interface Case {
  /** [time, rows, cols, channels] */
  input: [number, number, number, number];
  kernelSize: [number, number];
  strides: [number, number];
  dilation: [number, number];
  padding: "valid" | "same";
  goBackwards: boolean;
  returnSequences: boolean;
  /** Whether the call passes h0 and c0 (and the layer returns its final states). */
  states: boolean;
  dropout: number;
  recurrentDropout: number;
}

const CASES: Case[] = [
  {
    input: [3, 7, 5, 5],
    kernelSize: [3, 2],
    strides: [1, 1],
    dilation: [1, 1],
    padding: "same",
    goBackwards: false,
    returnSequences: true,
    states: true,
    dropout: RATE_IN,
    recurrentDropout: RATE_REC,
  },
  {
    input: [4, 7, 6, 5],
    kernelSize: [3, 3],
    strides: [2, 1],
    dilation: [1, 1],
    padding: "valid",
    goBackwards: true,
    returnSequences: false,
    states: false,
    dropout: RATE_IN,
    recurrentDropout: RATE_REC,
  },
  {
    input: [3, 5, 7, 5],
    kernelSize: [2, 3],
    strides: [1, 1],
    dilation: [1, 1],
    padding: "same",
    goBackwards: true,
    returnSequences: true,
    states: true,
    dropout: 0,
    recurrentDropout: RATE_REC,
  },
  {
    input: [3, 7, 6, 5],
    kernelSize: [2, 2],
    strides: [1, 1],
    dilation: [2, 2],
    padding: "same",
    goBackwards: false,
    returnSequences: false,
    states: true,
    dropout: RATE_IN,
    recurrentDropout: 0,
  },
];

const FILTERS = 3;

/** The layer of a case, built with random weights (the caller disposes it). */
function buildCase(c: Case, rng: Rng, extra: Record<string, unknown> = {}): ConvLSTM2D {
  const layer = new ConvLSTM2D({
    name: "clstm",
    filters: FILTERS,
    kernel_size: c.kernelSize,
    strides: c.strides,
    dilation_rate: c.dilation,
    padding: c.padding,
    go_backwards: c.goBackwards,
    return_sequences: c.returnSequences,
    return_state: c.states,
    dropout: c.dropout,
    recurrent_dropout: c.recurrentDropout,
    ...extra,
  });
  const specs = layer.weightSpecs(c.input);
  layer.build(
    c.input,
    specs.map((s) => ({
      name: s.name,
      shape: s.shape,
      data: rng.floats(s.shape.reduce((a, b) => a * b, 1), -0.6, 0.6),
    })),
    getRuntime().heap,
  );
  return layer;
}

/** Device buffers of one test run, freed together. */
class DeviceScope {
  readonly heap = getRuntime().heap;
  readonly ptrs: number[] = [];
  upload(data: ArrayLike<number>, shape: number[]): DeviceTensor {
    const ptr = this.heap.upload(Float32Array.from(data));
    this.ptrs.push(ptr);
    return { ptr, shape, dtype: "float32" };
  }
  own(t: DeviceTensor): DeviceTensor {
    this.ptrs.push(t.ptr);
    return t;
  }
  read(ptr: number, n: number): Float32Array {
    return this.heap.f32(ptr, n).slice();
  }
  free(): void {
    for (const p of new Set(this.ptrs)) this.heap.free(p);
    this.ptrs.length = 0;
  }
}

/** A training context of one slice starting at `sampleOffset` (buffers kept by `scope`). */
function trainContext(scope: DeviceScope, seed: number, sampleOffset = 0, training = true) {
  const { kernels, heap } = getRuntime();
  const ctx: TrainContext = {
    kernels,
    heap,
    training,
    trainable: true,
    tape: new Map(),
    keep: (p) => (scope.ptrs.push(p), p),
    seedFor: () => seed,
    sampleOffset,
  };
  return ctx;
}

/** The training forward of `layer` on `xs`; returns every output and the tape. */
function trainForward(
  layer: ConvLSTM2D,
  xs: DeviceTensor[],
  ctx: TrainContext,
  scope: DeviceScope,
) {
  const out = CONV_LSTM2D.training!.forwardInputs!(layer, xs, xs.map(() => null), ctx);
  const outs = (Array.isArray(out) ? out : [out]).map((t) => scope.own(t));
  return { outs, tape: ctx.tape.get(layer) as ConvLstmTape };
}

/** The masks of a tape as host arrays: per gate, input [B, H, W, C] and recurrent [B, H', W', f]. */
function readMasks(scope: DeviceScope, tape: ConvLstmTape, inFloats: number, recFloats: number) {
  return {
    input: tape.inputMasks.map((p) => scope.read(p, inFloats)),
    recurrent: tape.recurrentMasks.map((p) => scope.read(p, recFloats)),
  };
}

/** Timesteps [t0, t1) of x [batch, time, frame floats]. */
function timeSlice(
  x: Float64Array,
  batch: number,
  time: number,
  frame: number,
  t0: number,
  t1: number,
): Float64Array {
  const out = new Float64Array(batch * (t1 - t0) * frame);
  for (let b = 0; b < batch; b++) {
    out.set(x.subarray((b * time + t0) * frame, (b * time + t1) * frame), b * (t1 - t0) * frame);
  }
  return out;
}

/** Σ a⊙b in float64. */
function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** max |got − want| / max |want| (want's scale at least 1e-3). */
function relErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  if (got.length !== want.length) return Infinity;
  let d = 0, s = 1e-3;
  for (let i = 0; i < want.length; i++) {
    const e = Math.abs(got[i] - want[i]);
    if (!(e <= d)) d = Number.isNaN(e) ? Infinity : e;
    s = Math.max(s, Math.abs(want[i]));
  }
  return d / s;
}

/** The reference's arguments for a case on a batch (weights read from the layer). */
function referenceArgs(
  c: Case,
  layer: ConvLSTM2D,
  batch: number,
  x: Float64Array,
  h0: Float64Array | undefined,
  c0: Float64Array | undefined,
): ConvLstm2dReferenceArgs {
  const [kernel, recurrentKernel, bias] = layer.getWeights().map((w) => Float64Array.from(w.data));
  return {
    x,
    shape: [batch, ...c.input],
    filters: FILTERS,
    kernelSize: c.kernelSize,
    strides: c.strides,
    dilation: c.dilation,
    padding: c.padding,
    kernel,
    recurrentKernel,
    bias,
    act: ActivationCode.Tanh,
    recAct: ActivationCode.Sigmoid,
    returnSequences: c.returnSequences,
    goBackwards: c.goBackwards,
    h0,
    c0,
  };
}

Deno.test("ConvLSTM2D cell dropout in training: forward (output, h, c) with the layer's masks vs the float64 reference; every gradient vs finite differences of the reference with the masks fixed", () => {
  const rng = new Rng(4242);
  let worstForward = 0, worstGrad = 0;
  for (const c of CASES) {
    for (const batch of [1, 3]) {
      const what = `${JSON.stringify(c)} batch ${batch}`;
      const layer = buildCase(c, rng);
      const scope = new DeviceScope();
      try {
        const [time, h, w, ch] = c.input;
        const out = layer.computeOutputShapeList([c.input]);
        const frame = (c.returnSequences ? out[0].slice(1) : out[0]) as number[];
        const unitsOut = frame[0] * frame[1] * FILTERS;
        const xHost = Float64Array.from(rng.floats(batch * time * h * w * ch, -1.5, 1.5));
        const h0 = c.states
          ? Float64Array.from(rng.floats(batch * unitsOut, -0.8, 0.8))
          : undefined;
        const c0 = c.states
          ? Float64Array.from(rng.floats(batch * unitsOut, -0.8, 0.8))
          : undefined;
        const x = scope.upload(xHost, [batch, ...c.input]);
        const xs = [x];
        if (h0 && c0) {
          xs.push(scope.upload(h0, [batch, ...frame]), scope.upload(c0, [batch, ...frame]));
        }
        const ctx = trainContext(scope, 9001);
        const { outs, tape } = trainForward(layer, xs, ctx, scope);
        const masks = readMasks(scope, tape, batch * h * w * ch, batch * unitsOut);
        if (masks.input.length !== (c.dropout ? 4 : 0)) {
          throw new Error(`${what}: ${masks.input.length} input masks`);
        }
        if (masks.recurrent.length !== (c.recurrentDropout ? 4 : 0)) {
          throw new Error(`${what}: ${masks.recurrent.length} recurrent masks`);
        }
        const args = {
          ...referenceArgs(c, layer, batch, xHost, h0, c0),
          inputMasks: masks.input.length ? masks.input : undefined,
          recurrentMasks: masks.recurrent.length ? masks.recurrent : undefined,
        };
        // ---- forward ----
        const want = convLstm2dReference64(args);
        const yFloats = want.y.length;
        const checkForward = (got: Float32Array, ref: Float64Array, name: string) => {
          const e = relErr(got, ref);
          if (!(e <= 1e-5)) throw new Error(`${what}: ${name} relative error ${e}`);
          worstForward = Math.max(worstForward, e);
        };
        checkForward(scope.read(outs[0].ptr, yFloats), want.y, "output");
        if (c.states) {
          checkForward(scope.read(outs[1].ptr, batch * unitsOut), want.h, "final h");
          checkForward(scope.read(outs[2].ptr, batch * unitsOut), want.c, "final c");
        }
        // ---- backward vs finite differences of Σ dy⊙y + Σ dhT⊙hT + Σ dcT⊙cT ----
        const dy = Float64Array.from(rng.floats(yFloats));
        const dhT = c.states ? Float64Array.from(rng.floats(batch * unitsOut)) : null;
        const dcT = c.states ? Float64Array.from(rng.floats(batch * unitsOut)) : null;
        const lossOf = (a: ConvLstm2dReferenceArgs) => {
          const r = convLstm2dReference64(a);
          return dot(dy, r.y) + (dhT ? dot(dhT, r.h) : 0) + (dcT ? dot(dcT, r.c) : 0);
        };
        const dyT = scope.upload(dy, outs[0].shape);
        const weights = layer.deviceWeights();
        const grads = layer.getWeights().map((wt) =>
          scope.upload(rng.floats(wt.data.length), wt.shape).ptr
        );
        const backArgs: BackwardArgs = {
          x,
          y: outs[0],
          mask: null,
          xs,
          masks: xs.map(() => null),
          dy: dyT,
          dys: [
            dyT,
            ...(c.states
              ? [scope.upload(dhT!, [batch, ...frame]), scope.upload(dcT!, [batch, ...frame])]
              : []),
          ],
          ys: outs,
          dyIsPreActivation: false,
          weights,
          grads,
          needInputGrad: true,
          needInputGrads: xs.map(() => true),
          ctx,
        };
        const back = CONV_LSTM2D.training!.backward(layer, backArgs);
        const inputGrads = (Array.isArray(back) ? back : [back]).map((t) => scope.own(t!));
        const fields: [keyof ConvLstm2dReferenceArgs, number][] = [
          ["x", inputGrads[0].ptr],
          ["kernel", grads[0]],
          ["recurrentKernel", grads[1]],
          ["bias", grads[2]],
          ...(c.states
            ? [["h0", inputGrads[1].ptr], ["c0", inputGrads[2].ptr]] as [
              keyof ConvLstm2dReferenceArgs,
              number,
            ][]
            : []),
        ];
        for (const [field, ptr] of fields) {
          const base = args[field] as Float64Array;
          const got = scope.read(ptr, base.length);
          // Every coordinate of the weights and states; a sample of x's (the largest).
          const coords = field === "x"
            ? Array.from({ length: 150 }, () => rng.int(0, base.length))
            : Array.from(base, (_, k) => k);
          const fd: number[] = [], mine: number[] = [];
          const eps = 1e-5;
          for (const k of coords) {
            const orig = base[k];
            base[k] = orig + eps;
            const up = lossOf(args);
            base[k] = orig - eps;
            const down = lossOf(args);
            base[k] = orig;
            fd.push((up - down) / (2 * eps));
            mine.push(got[k]);
          }
          if (!(Math.max(...fd.map(Math.abs)) > 1e-4)) {
            throw new Error(`${what}: ∂/∂${field} is ~0: the check is blind`);
          }
          const e = relErr(mine, fd);
          if (!(e <= 1e-3)) throw new Error(`${what}: ∂/∂${field} relative error ${e}`);
          worstGrad = Math.max(worstGrad, e);
        }
      } finally {
        scope.free();
        layer.dispose();
      }
    }
  }
  report("ConvLSTM2D dropout forward vs reference: max relative error", worstForward);
  report("ConvLSTM2D dropout gradients vs finite differences: max relative error", worstGrad);
});

Deno.test("ConvLSTM2D cell dropout masks: four per family, distinct per gate (a shared mask gives another output), inverted-dropout values at the rate, drawn by sample index (worker slices equal the whole batch's rows); no masks in a training=False call", () => {
  const rng = new Rng(77);
  const c = CASES[0];
  const batch = 3;
  const layer = buildCase(c, rng);
  const scope = new DeviceScope();
  try {
    const [time, h, w, ch] = c.input;
    const frame = [h, w, FILTERS]; // same padding
    const inFloats = h * w * ch, unitsOut = h * w * FILTERS;
    const xHost = Float64Array.from(rng.floats(batch * time * inFloats, -1.5, 1.5));
    const h0 = Float64Array.from(rng.floats(batch * unitsOut, -0.8, 0.8));
    const c0 = Float64Array.from(rng.floats(batch * unitsOut, -0.8, 0.8));
    const inputs = (b0: number, b1: number) => [
      scope.upload(xHost.subarray(b0 * time * inFloats, b1 * time * inFloats), [
        b1 - b0,
        ...c.input,
      ]),
      scope.upload(h0.subarray(b0 * unitsOut, b1 * unitsOut), [b1 - b0, ...frame]),
      scope.upload(c0.subarray(b0 * unitsOut, b1 * unitsOut), [b1 - b0, ...frame]),
    ];
    const whole = trainForward(layer, inputs(0, batch), trainContext(scope, 31), scope);
    const masks = readMasks(scope, whole.tape, batch * inFloats, batch * unitsOut);
    for (
      const [family, list, rate] of [
        ["input", masks.input, RATE_IN],
        ["recurrent", masks.recurrent, RATE_REC],
      ] as const
    ) {
      if (list.length !== 4) throw new Error(`${list.length} ${family} masks`);
      const keep = Math.fround(1 / (1 - Math.fround(rate)));
      list.forEach((m, k) => {
        if (m.some((v) => v !== 0 && v !== keep)) {
          throw new Error(`${family} mask ${k}: a value not 0 or ${keep}`);
        }
        const dropped = m.filter((v) => v === 0).length / m.length;
        if (!(Math.abs(dropped - rate) < 0.1)) {
          throw new Error(`${family} mask ${k}: dropped ${dropped}`);
        }
        for (let j = 0; j < k; j++) {
          if (m.every((v, i) => v === list[j][i])) {
            throw new Error(`${family} masks ${j} and ${k} equal`);
          }
        }
      });
    }
    // The input and recurrent families are different streams too.
    const n = Math.min(masks.input[0].length, masks.recurrent[0].length);
    if (masks.input[0].subarray(0, n).every((v, i) => v === masks.recurrent[0][i])) {
      throw new Error("the input and recurrent masks share a stream");
    }
    // The output is the reference's with the four masks per family; sharing gate 0's mask over
    // the four gates (one mask per family) gives another output.
    const args = referenceArgs(c, layer, batch, xHost, h0, c0);
    const y = scope.read(whole.outs[0].ptr, batch * time * unitsOut);
    const perGate = convLstm2dReference64({
      ...args,
      inputMasks: masks.input,
      recurrentMasks: masks.recurrent,
    });
    const shared = convLstm2dReference64({
      ...args,
      inputMasks: masks.input.map(() => masks.input[0]),
      recurrentMasks: masks.recurrent.map(() => masks.recurrent[0]),
    });
    const ePerGate = relErr(y, perGate.y), eShared = relErr(y, shared.y);
    if (!(ePerGate <= 1e-5)) throw new Error(`per-gate reference: ${ePerGate}`);
    if (!(eShared > 1e-2)) throw new Error(`the shared-mask reference matches too (${eShared})`);
    report("ConvLSTM2D per-gate vs shared-mask reference: relative difference", eShared);
    // Masks are per sequence, not per step: the reference run as step 0, then steps 1… from its
    // states, equals the engine with the same masks in both parts, and differs when the later
    // steps take other masks (the gates' masks rotated, as if drawn afresh).
    const split = (later: Float32Array[][]) => {
      const head = convLstm2dReference64({
        ...args,
        x: timeSlice(xHost, batch, time, inFloats, 0, 1),
        shape: [batch, 1, h, w, ch],
        inputMasks: masks.input,
        recurrentMasks: masks.recurrent,
      });
      const tail = convLstm2dReference64({
        ...args,
        x: timeSlice(xHost, batch, time, inFloats, 1, time),
        shape: [batch, time - 1, h, w, ch],
        h0: head.h,
        c0: head.c,
        inputMasks: later[0],
        recurrentMasks: later[1],
      });
      const joined = new Float64Array(y.length);
      for (let b = 0; b < batch; b++) {
        joined.set(head.y.subarray(b * unitsOut, (b + 1) * unitsOut), b * time * unitsOut);
        joined.set(
          tail.y.subarray(b * (time - 1) * unitsOut, (b + 1) * (time - 1) * unitsOut),
          (b * time + 1) * unitsOut,
        );
      }
      return relErr(y, joined);
    };
    const eSame = split([masks.input, masks.recurrent]);
    if (!(eSame <= 1e-5)) throw new Error(`step 0 then steps 1… with the same masks: ${eSame}`);
    const rotate = (list: Float32Array[]) => list.map((_, k) => list[(k + 1) % 4]);
    const eFresh = split([rotate(masks.input), rotate(masks.recurrent)]);
    if (!(eFresh > 1e-2)) throw new Error(`other masks after step 0 match too (${eFresh})`);
    // A worker's slice [1, 3) with sample offset 1 draws rows 1 and 2 of the whole batch's masks
    // and so computes the same outputs.
    const slice = trainForward(layer, inputs(1, batch), trainContext(scope, 31, 1), scope);
    const sliceMasks = readMasks(scope, slice.tape, 2 * inFloats, 2 * unitsOut);
    sliceMasks.input.forEach((m, k) => {
      if (m.some((v, i) => v !== masks.input[k][inFloats + i])) {
        throw new Error(`slice input mask ${k}`);
      }
    });
    sliceMasks.recurrent.forEach((m, k) => {
      if (m.some((v, i) => v !== masks.recurrent[k][unitsOut + i])) {
        throw new Error(`slice recurrent mask ${k}`);
      }
    });
    const ySlice = scope.read(slice.outs[0].ptr, 2 * time * unitsOut);
    if (ySlice.some((v, i) => v !== y[time * unitsOut + i])) {
      throw new Error("slice output differs");
    }
    // Another seed draws other masks.
    const other = trainForward(layer, inputs(0, batch), trainContext(scope, 32), scope);
    const otherMasks = readMasks(scope, other.tape, batch * inFloats, batch * unitsOut);
    if (otherMasks.input[0].every((v, i) => v === masks.input[0][i])) {
      throw new Error("seed ignored");
    }
    // A call in inference mode inside fit (training=False) draws none and equals no dropout.
    const off = trainForward(layer, inputs(0, batch), trainContext(scope, 31, 0, false), scope);
    if (off.tape.inputMasks.length || off.tape.recurrentMasks.length) {
      throw new Error("masks drawn in a training=False call");
    }
    const eOff = relErr(scope.read(off.outs[0].ptr, y.length), convLstm2dReference64(args).y);
    if (!(eOff <= 1e-5)) throw new Error(`training=False call vs no dropout: ${eOff}`);
  } finally {
    scope.free();
    layer.dispose();
  }
});

Deno.test("ConvLSTM2D cell dropout: predict ignores it (equals the reference without masks); rates outside [0, 1) are LayerConfigErrors naming the layer and field in fit", () => {
  const rng = new Rng(78);
  const input = [3, 5, 7, 5];
  const config = {
    name: "clstm",
    filters: 3,
    kernel_size: [3, 3],
    padding: "same",
    return_sequences: true,
    dropout: RATE_IN,
    recurrent_dropout: RATE_REC,
  };
  const spec = randomSpec([{ class_name: "ConvLSTM2D", config }], input, rng);
  const model = buildModel(spec);
  try {
    const x = rng.floats(2 * 3 * 5 * 7 * 5, -1.5, 1.5);
    const got = model.predict(new Tensor(x, [2, ...input])).data as Float32Array;
    const [kernel, recurrentKernel, bias] = spec.weights.clstm.map((w) => w.data);
    const want = convLstm2dReference64({
      x,
      shape: [2, 3, 5, 7, 5],
      filters: 3,
      kernelSize: [3, 3],
      strides: [1, 1],
      dilation: [1, 1],
      padding: "same",
      kernel,
      recurrentKernel,
      bias,
      act: ActivationCode.Tanh,
      recAct: ActivationCode.Sigmoid,
      returnSequences: true,
      goBackwards: false,
    }).y;
    const e = relativeError(got, want);
    if (!(e <= 1e-5)) throw new Error(`predict with dropout configured: ${e}`);
  } finally {
    model.dispose();
  }
  for (
    const [field, rate] of [["dropout", 1], ["recurrent_dropout", -0.1], [
      "dropout",
      "0.2",
    ]] as const
  ) {
    const bad = randomSpec(
      [
        { class_name: "ConvLSTM2D", config: { ...config, return_sequences: false, [field]: rate } },
        { class_name: "Flatten", config: { name: "flat" } },
        { class_name: "Dense", config: { name: "out", units: 2, activation: "softmax" } },
      ],
      input,
      rng,
    );
    const m = buildModel(bad);
    try {
      m.compile({ optimizer: "sgd", loss: "sparse_categorical_crossentropy" });
      let err: unknown = null;
      try {
        m.trainOnBatch(
          new Tensor(rng.floats(2 * 525), [2, ...input]),
          new Tensor(Float32Array.from([0, 1]), [2]),
        );
      } catch (e) {
        err = e;
      }
      if (
        !(err instanceof LayerConfigError) || !err.message.includes("clstm") ||
        !err.message.includes(field)
      ) {
        throw new Error(`${field}=${rate}: ${err}`);
      }
    } finally {
      m.dispose();
    }
  }
});

Deno.test("ConvLSTM2D(dropout=0.3, recurrent_dropout=0.2) fit: the loss falls, 2 threads equal 1, the step seed reaches the masks", async () => {
  const input = [4, 6, 5, 2];
  const spec = randomSpec(
    [
      {
        class_name: "ConvLSTM2D",
        config: {
          name: "clstm",
          filters: 3,
          kernel_size: [3, 3],
          padding: "same",
          dropout: 0.3,
          recurrent_dropout: 0.2,
        },
      },
      { class_name: "Flatten", config: { name: "flat" } },
      { class_name: "Dense", config: { name: "out", units: 2, activation: "softmax" } },
    ],
    input,
    new Rng(91),
    { scale: 0.3 },
  );
  const rng = new Rng(92);
  const n = 32;
  const per = 4 * 6 * 5 * 2;
  const y = Float32Array.from({ length: n }, () => rng.int(0, 2));
  // A learnable label: the sign of the mean of the first channel, shifted by the class.
  const xData = rng.floats(n * per, -1, 1);
  for (let s = 0; s < n; s++) {
    for (let i = 0; i < per; i += 2) xData[s * per + i] += y[s] ? 0.5 : -0.5;
  }
  const x = new Tensor(xData, [n, ...input]);
  const labels = new Tensor(y, [n]);
  const run = async (workers: 1 | 2, seed: number) => {
    const model = buildModel(spec);
    try {
      model.compile({
        optimizer: new SGD({ learningRate: 0.2 }),
        loss: "sparse_categorical_crossentropy",
        workers,
      });
      const h = await model.fit(x, labels, {
        epochs: 6,
        batchSize: 16,
        verbose: 0,
        shuffle: false,
        seed,
      });
      return { loss: h.history.loss, w: model.getWeights() };
    } finally {
      model.dispose();
    }
  };
  const one = await run(1, 5);
  if (!(one.loss[one.loss.length - 1] < 0.8 * one.loss[0])) {
    throw new Error(`the loss did not fall: ${one.loss.join(", ")}`);
  }
  report(
    "ConvLSTM2D dropout fit: last / first epoch loss",
    one.loss[one.loss.length - 1] / one.loss[0],
  );
  const started = startedTrainingWorkers();
  const two = await run(2, 5);
  if (startedTrainingWorkers() === started) throw new Error("no worker started");
  let worst = 0;
  one.loss.forEach((l, i) => (worst = Math.max(worst, Math.abs(l - two.loss[i]))));
  one.w.forEach((w, i) => (worst = Math.max(worst, relativeError(two.w[i].data, w.data))));
  if (!(worst <= 1e-5)) throw new Error(`1 vs 2 threads: ${worst}`);
  report("ConvLSTM2D dropout fit, 2 threads vs 1: max difference", worst);
  const other = await run(1, 6);
  const moved = Math.max(...one.w.map((w, i) => relativeError(other.w[i].data, w.data)));
  if (!(moved > 1e-4)) throw new Error(`another seed gave the same weights (${moved})`);
});
