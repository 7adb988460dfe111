import { buildModel, LayerConfigError } from "../../mod.ts";
import { Rng } from "../../testing/random.ts";
import { expectRecurrentVariantsMatchTfjs, textModelSpec } from "../../testing/rnn_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("SimpleRNN matches TF.js on post-padded mask_zero ids (every variant)", async () => {
  await tfReady();
  expectRecurrentVariantsMatchTfjs(new Rng(41), "SimpleRNN");
});

Deno.test("SimpleRNN: stateful, return_state and softmax activation are refused by name", () => {
  for (
    const [field, value] of [["stateful", true], ["return_state", true], ["activation", "softmax"]]
  ) {
    let err: unknown;
    try {
      buildModel(textModelSpec(new Rng(1), { time: 4, vocab: 9, embeddingDim: 3 }, [{
        class_name: "SimpleRNN",
        config: { name: "my_rnn", units: 2, [field as string]: value },
      }]));
    } catch (e) {
      err = e;
    }
    if (!(err instanceof LayerConfigError)) {
      throw new Error(`${field}: expected LayerConfigError, got ${err}`);
    }
    for (const part of ["my_rnn", field as string]) {
      if (!err.message.includes(part)) throw new Error(`"${err.message}" lacks "${part}"`);
    }
  }
});
