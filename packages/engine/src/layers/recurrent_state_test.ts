/**
 * Recurrent layers with `return_state` and `initial_state` in whole graphs (encoder–decoder
 * models): TF.js builds them with its layers API and random weights, the engine runs them from
 * `specFromTfjs` (Keras 2 / TF.js config: the states are further inbound tensors of the call) and
 * from a Keras 3 config whose decoder passes `initial_state` as a keyword argument. Outputs ≤ 1e-5
 * and gradients of every weight ≤ 1e-4 relative to `tf.variableGrads`; the states' gradients flow
 * from the decoder back into the encoder.
 */
import { buildModel, type KerasObject, ModelConfigError, type ModelSpec } from "../../mod.ts";
import { expectGraphGradientsMatchTfjs } from "../../testing/graph_gradients.ts";
import { expectSpecsPredictAsTfjs } from "../../testing/graph_predict.ts";
import { Rng } from "../../testing/random.ts";
import {
  type GraphCase,
  graphCase,
  keras3SpecFromTfjs,
  keyedWeights,
  specFromTfjs,
} from "../../testing/tfjs_graphs.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** The seq2seq graph cases (`testing/tfjs_graphs.ts`): every graph suite runs them too. */
const CASES: GraphCase[] = [
  "seq2seq_lstm",
  "seq2seq_gru",
  "seq2seq_simple_rnn",
  "seq2seq_bidirectional",
].map(graphCase);
const CLASSES = 3;

/**
 * The Keras 3 form of the decoder's call: `decoder(x, initial_state=[h, c])`, the states in
 * `kwargs` as Keras 3 writes them (keras3SpecFromTfjs passes every tensor positionally).
 */
function keras3WithStateKwargs(spec: ModelSpec): ModelSpec {
  const config = structuredClone(spec.config) as KerasObject;
  const layers = (config.config as { layers: Any[] }).layers;
  for (const layer of layers) {
    for (const node of layer.inbound_nodes ?? []) {
      const tensors = node.args.flat(Infinity);
      if (tensors.length > 1 && ["LSTM", "GRU", "SimpleRNN"].includes(layer.class_name)) {
        node.args = [tensors[0]];
        node.kwargs = { ...node.kwargs, initial_state: tensors.slice(1) };
      }
    }
  }
  return { ...spec, config };
}

for (const c of CASES) {
  Deno.test(`${c.name} (return_state / initial_state): predict vs TF.js ≤ 1e-5, batch 1 and 9, Keras 2 and 3 configs`, async () => {
    await tfReady();
    const ref = c.build(161);
    const rng = new Rng(1661);
    let worst = 0;
    try {
      const keras3 = keras3SpecFromTfjs(ref);
      const specs: [string, ModelSpec][] = [
        ["keras2/tfjs", specFromTfjs(ref)],
        ["keras3", keras3],
        ["keras3 initial_state kwarg", keras3WithStateKwargs(keras3)],
      ];
      worst = expectSpecsPredictAsTfjs(ref, specs, [1, 9], (batch) => c.inputs(rng, batch));
    } finally {
      ref.dispose();
    }
    console.log(`${c.name} vs TF.js: max |Δ| = ${worst.toExponential(2)}`);
  });
}

for (const c of CASES) {
  Deno.test(`${c.name} (return_state / initial_state): gradients of every weight vs tf.variableGrads ≤ 1e-4`, async () => {
    await tfReady();
    const ref = c.build(162);
    const rng = new Rng(1662);
    let worst = 0;
    try {
      const spec = specFromTfjs(ref);
      for (const batch of [1, 6]) {
        const xs = c.inputs(rng, batch);
        const y = Float32Array.from({ length: batch }, () => rng.int(0, CLASSES));
        const check = expectGraphGradientsMatchTfjs(ref, spec, xs, y, `batch ${batch}`);
        worst = Math.max(worst, check.worst);
        // The encoder learns only through the states it hands the decoder: its kernel's
        // gradient must not be zero.
        const enc = keyedWeights(ref).find((w) => w.key.startsWith("encoder"))!;
        const r = check.want.get(`${enc.key}#${enc.index}`)!;
        if (!(Math.max(...Array.from(r, Math.abs)) > 1e-7)) {
          throw new Error(`the encoder's gradient is ~0: the check is blind`);
        }
      }
    } finally {
      ref.dispose();
    }
    console.log(`${c.name}: worst relative gradient error ${worst.toExponential(2)}`);
  });
}

Deno.test("return_state: summary lists every output; bad state reads and Sequential use are refused", async () => {
  await tfReady();
  const ref = CASES[0].build(163);
  try {
    const spec = specFromTfjs(ref);
    const model = buildModel(spec);
    try {
      const text = model.summary();
      if (!/encoder \(LSTM\)\s+\[\(None, 6\), \(None, 6\), \(None, 6\)\]/.test(text)) {
        throw new Error(`summary does not list the encoder's three outputs:\n${text}`);
      }
      if (!/decoder \(LSTM\).*encoder\[0\]\[1\], encoder\[0\]\[2\]/.test(text)) {
        throw new Error(`summary does not connect the decoder to the states:\n${text}`);
      }
    } finally {
      model.dispose();
    }
    // A reference to a fourth output of the encoder: named in a typed error.
    const bad = structuredClone(spec.config) as Any;
    for (const layer of bad.config.layers) {
      if (layer.name !== "decoder") continue;
      layer.inbound_nodes[0][2] = ["encoder", 0, 3, {}];
    }
    let err: unknown;
    try {
      buildModel({ ...spec, config: bad }).dispose();
    } catch (e) {
      err = e;
    }
    if (!(err instanceof ModelConfigError) || !/encoder\[0\]\[3\]/.test(err.message)) {
      throw new Error(`expected ModelConfigError naming encoder[0][3], got ${err}`);
    }
  } finally {
    ref.dispose();
  }
});
