/**
 * SimpleRNN, LSTM, GRU and Bidirectional as ONNX's RNN, LSTM and GRU operators (the ONNX hooks
 * of their layer classes).
 *
 * Weights: ONNX keeps per direction `W [gates·units, in]`, `R [gates·units, units]` and
 * `B [2·gates·units]` (input then recurrent bias). Keras's LSTM gates are ordered i, f, c, o and
 * ONNX's i, o, f, c; GRU's z, r, h are the same in both. Keras GRU `reset_after=True` (bias rows
 * input, recurrent) is ONNX's `linear_before_reset=1`.
 *
 * States: Keras's `initial_state` inputs are ONNX's `initial_h` / `initial_c` (`[directions, batch,
 * units]`, Bidirectional's forward states then its backward ones); `return_state` outputs are
 * `Y_h` / `Y_c` split per direction (the state at each row's last real step under a mask, as Keras
 * carries it).
 *
 * Masks: ONNX takes a length per sequence (`sequence_lens`), so the mask is read as a length:
 * exact for right-padded sequences (a mask that is a prefix of ones, as `mask_zero` gives for
 * post-padded ids), not for holes or left padding. Past its length ONNX outputs zeros, which is
 * Keras's `zero_output_for_mask` (Bidirectional's choice); a plain layer repeats its last output
 * there instead, so its sequence output takes the last state at the masked steps.
 *
 * @module
 */
import { type Activation, ActivationCode } from "../activations.ts";
import { gateCount, RnnCell } from "../kernels/rnn_codes.ts";
import { emitReduce, type OnnxAttribute, type OnnxLayerContext } from "../onnx_emit.ts";
import type { RecurrentLayer } from "./recurrent.ts";

/** How Bidirectional merges its two directions (a single layer: "concat" of one). */
export type RecurrentMerge = "concat" | "sum" | "mul" | "ave";

/** Keras gate block → ONNX gate block, per cell. */
function gateOrder(cell: RnnCell): number[] {
  if (cell === RnnCell.LSTM) return [0, 3, 1, 2]; // ONNX i, o, f, c from Keras i, f, c, o
  return cell === RnnCell.SimpleRNN ? [0] : [0, 1, 2];
}

/** A Keras `[rows, gates·units]` matrix as ONNX's `[gates·units, rows]` in ONNX gate order. */
function gateMatrix(
  data: Float32Array,
  rows: number,
  units: number,
  order: number[],
): Float32Array {
  const g = order.length, cols = g * units;
  const out = new Float32Array(data.length);
  for (let og = 0; og < g; og++) {
    for (let u = 0; u < units; u++) {
      const src = order[og] * units + u, dst = (og * units + u) * rows;
      for (let r = 0; r < rows; r++) out[dst + r] = data[r * cols + src];
    }
  }
  return out;
}

/** A gate vector `[gates·units]` in ONNX gate order. */
function gateVector(data: Float32Array, units: number, order: number[]): Float32Array {
  const out = new Float32Array(order.length * units);
  order.forEach((src, og) => out.set(data.subarray(src * units, (src + 1) * units), og * units));
  return out;
}

/** One activation as ONNX's recurrent operators name it, with its alpha / beta if it takes them. */
function onnxRecurrentActivation(
  ctx: OnnxLayerContext,
  act: Activation,
): { name: string; alpha?: number; beta?: number } {
  if (act.kind === "elementwise") {
    switch (act.code) {
      case ActivationCode.Sigmoid:
        return { name: "Sigmoid" };
      case ActivationCode.Tanh:
        return { name: "Tanh" };
      case ActivationCode.Relu:
        return { name: "Relu" };
      case ActivationCode.Linear:
        return { name: "Affine", alpha: 1, beta: 0 };
      case ActivationCode.Elu:
        return { name: "Elu", alpha: act.alpha };
      case ActivationCode.Softsign:
        return { name: "Softsign" };
      case ActivationCode.Softplus:
        return { name: "Softplus" };
      case ActivationCode.HardSigmoid: // relu6(x + 3) / 6
        return { name: "HardSigmoid", alpha: 1 / 6, beta: 0.5 };
      case ActivationCode.HardSigmoidKeras2:
        return { name: "HardSigmoid", alpha: 0.2, beta: 0.5 };
    }
  }
  ctx.refuse(`activation ${act.name} inside a recurrent cell has no ONNX form`);
}

/** The recurrent operator's `activations` attributes for the layers' directions in order. */
function activationAttributes(
  ctx: OnnxLayerContext,
  layers: readonly RecurrentLayer[],
): Record<string, OnnxAttribute> {
  const names: string[] = [], alphas: number[] = [], betas: number[] = [];
  for (const layer of layers) {
    // LSTM: f (gates), g (cell input), h (cell output); GRU: f, g; RNN: f.
    const acts = layer.cell === RnnCell.SimpleRNN
      ? [layer.activation]
      : layer.cell === RnnCell.LSTM
      ? [layer.recurrentActivation, layer.activation, layer.activation]
      : [layer.recurrentActivation, layer.activation];
    for (const act of acts) {
      const a = onnxRecurrentActivation(ctx, act);
      names.push(a.name);
      if (a.alpha !== undefined) alphas.push(a.alpha);
      if (a.beta !== undefined) betas.push(a.beta);
    }
  }
  return {
    activations: { strings: names },
    ...(alphas.length ? { activation_alpha: { floats: alphas } } : {}),
    ...(betas.length ? { activation_beta: { floats: betas } } : {}),
  };
}

/** ONNX W, R and B of one direction. */
function directionWeights(
  layer: RecurrentLayer,
): { w: Float32Array; r: Float32Array; b: Float32Array } {
  const [kernel, recurrent, bias] = layer.getWeights();
  const units = layer.units, order = gateOrder(layer.cell), g = gateCount(layer.cell) * units;
  const w = gateMatrix(kernel.data, kernel.shape[0], units, order);
  const r = gateMatrix(recurrent.data, units, units, order);
  const b = new Float32Array(2 * g);
  if (layer.useBias) {
    b.set(gateVector(bias.data.subarray(0, g), units, order), 0);
    // reset_after keeps a second bias row for the recurrent product: ONNX's Rb.
    if (layer.cell === RnnCell.GRUResetAfter) {
      b.set(gateVector(bias.data.subarray(g, 2 * g), units, order), g);
    }
  }
  return { w, r, b };
}

/**
 * Writes one recurrent layer (`[layer]`) or Bidirectional's two (`[forward, backward]`, as one
 * bidirectional operator) for `ctx`'s call: input `[batch, time, features]`, output as Keras
 * gives it (`[batch, time, units]` sequences or `[batch, units]`, directions merged by `merge`).
 */
export function emitRecurrentOnnx(
  ctx: OnnxLayerContext,
  layers: readonly RecurrentLayer[],
  merge: RecurrentMerge,
): void {
  const first = layers[0];
  const bidirectional = layers.length === 2;
  if (bidirectional) {
    const [f, b] = layers;
    const same = f.cell === b.cell && f.units === b.units && f.useBias === b.useBias &&
      f.activation.code === b.activation.code &&
      f.recurrentActivation.code === b.recurrentActivation.code;
    if (!same || f.goBackwards || !b.goBackwards) {
      ctx.refuse(
        "a backward_layer that differs from the forward layer (cell, units, bias, activations) " +
          "or a forward layer with go_backwards",
      );
    }
  }
  const units = first.units, seq = first.returnSequences;
  const op = first.cell === RnnCell.SimpleRNN
    ? "RNN"
    : first.cell === RnnCell.LSTM
    ? "LSTM"
    : "GRU";
  const dirs = layers.length;
  const weights = layers.map(directionWeights);
  const stack = (part: "w" | "r" | "b") => {
    const size = weights[0][part].length;
    const out = new Float32Array(size * dirs);
    weights.forEach((w, d) => out.set(w[part], d * size));
    return out;
  };
  const inDim = ctx.inputShapes[0][1] as number, g = gateCount(first.cell) * units;
  const w = ctx.initializer("W", { float32: stack("w") }, [dirs, g, inDim]);
  const r = ctx.initializer("R", { float32: stack("r") }, [dirs, g, units]);
  const b = ctx.initializer("B", { float32: stack("b") }, [dirs, 2 * g]);

  const timeMajor = ctx.fresh("time_major");
  ctx.node("Transpose", [ctx.inputs[0]], [timeMajor], { perm: { ints: [1, 0, 2] } });
  const mask = ctx.inputMasks[0];
  let lengths = "";
  if (mask) {
    const ones = ctx.fresh("mask_int");
    lengths = ctx.fresh("sequence_lens");
    ctx.node("Cast", [mask], [ones], { to: { int: 6 } }); // 6: INT32
    emitReduce(ctx, "ReduceSum", ones, [1], false, lengths);
  }
  // Initial states: per direction [batch, units] → [directions, batch, units].
  const stateCount = first.cell === RnnCell.LSTM ? 2 : 1;
  const given = ctx.inputs.slice(1);
  if (given.length !== 0 && given.length !== stateCount * dirs) {
    ctx.refuse(`expected ${stateCount * dirs} initial state tensors, got ${given.length}`);
  }
  const initial = (k: number) => {
    if (!given.length) return "";
    const per = layers.map((_, d) => {
      const out = ctx.fresh(k ? "initial_c_dir" : "initial_h_dir");
      ctx.node("Unsqueeze", [given[d * stateCount + k], ctx.int64s("axes", [0])], [out]);
      return out;
    });
    if (per.length === 1) return per[0];
    const out = ctx.fresh(k ? "initial_c" : "initial_h");
    ctx.node("Concat", per, [out], { axis: { int: 0 } });
    return out;
  };
  const inputs = [timeMajor, w, r, b, lengths, initial(0)];
  if (op === "LSTM") inputs.push(initial(1));
  while (inputs[inputs.length - 1] === "") inputs.pop();
  const y = ctx.fresh("Y"), yh = ctx.fresh("Y_h");
  const wantStates = ctx.outputs.length > 1;
  const yc = op === "LSTM" && wantStates ? ctx.fresh("Y_c") : "";
  const outputs = [seq ? y : "", yh, ...(yc ? [yc] : [])];
  ctx.node(op, inputs, outputs, {
    hidden_size: { int: units },
    direction: {
      string: bidirectional ? "bidirectional" : first.goBackwards ? "reverse" : "forward",
    },
    ...activationAttributes(ctx, layers),
    ...(op === "GRU"
      ? { linear_before_reset: { int: first.cell === RnnCell.GRUResetAfter ? 1 : 0 } }
      : {}),
  });

  if (wantStates) {
    // return_state: each direction's final h (and c), forward first.
    const states = op === "LSTM" ? [yh, yc] : [yh];
    let k = 1;
    for (let d = 0; d < dirs; d++) {
      for (const s of states) {
        // A scalar index drops the directions axis: [batch, units].
        const index = ctx.initializer("direction", { int64: [d] }, []);
        ctx.node("Gather", [s, index], [ctx.outputs[k++]], { axis: { int: 0 } });
      }
    }
  }
  const merged = (x: string, axis: number, out: string) => {
    if (merge === "concat" || !bidirectional) {
      const shape = axis === 2 ? [0, 0, -1] : [0, -1];
      return ctx.node("Reshape", [x, ctx.int64s("shape", shape)], [out]);
    }
    const reduce = merge === "sum" ? "ReduceSum" : merge === "mul" ? "ReduceProd" : "ReduceMean";
    emitReduce(ctx, reduce, x, [axis], false, out);
  };
  if (!seq) {
    // Y_h [dirs, batch, units] → [batch, dirs, units] → merged [batch, width].
    const batchMajor = ctx.fresh("Y_h_batch_major");
    ctx.node("Transpose", [yh], [batchMajor], { perm: { ints: [1, 0, 2] } });
    return merged(batchMajor, 1, ctx.output);
  }
  // Y [time, dirs, batch, units] → [batch, time, dirs, units] → merged [batch, time, width].
  const batchMajor = ctx.fresh("Y_batch_major");
  ctx.node("Transpose", [y], [batchMajor], { perm: { ints: [2, 0, 1, 3] } });
  if (bidirectional) return merged(batchMajor, 2, ctx.output);
  const flipped = first.goBackwards;
  const repeatsLast = mask !== null && !first.zeroOutputForMask && !flipped;
  const sequence = flipped || repeatsLast ? ctx.fresh("Y_sequence") : ctx.output;
  merged(batchMajor, 2, sequence);
  if (flipped) {
    // go_backwards returns the outputs in processing order: the last time step first.
    ctx.node("Slice", [
      sequence,
      ctx.int64s("starts", [-1]),
      ctx.int64s("ends", [-Number.MAX_SAFE_INTEGER]),
      ctx.int64s("axes", [1]),
      ctx.int64s("steps", [-1]),
    ], [ctx.output]);
  } else if (repeatsLast) {
    // Keras repeats the last output at masked (trailing) steps; ONNX wrote zeros there.
    const keep = ctx.fresh("mask_3d"), last = ctx.fresh("last_output");
    ctx.node("Unsqueeze", [mask!, ctx.int64s("axes", [2])], [keep]);
    ctx.node("Transpose", [yh], [last], { perm: { ints: [1, 0, 2] } });
    ctx.node("Where", [keep, sequence, last], [ctx.output]);
  }
}

/** The ONNX hook of SimpleRNN, LSTM and GRU. */
export function recurrentOnnx(layer: RecurrentLayer, ctx: OnnxLayerContext): void {
  emitRecurrentOnnx(ctx, [layer], "concat");
}
