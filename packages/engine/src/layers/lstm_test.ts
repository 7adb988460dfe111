import { Rng } from "../../testing/random.ts";
import {
  expectRecurrentVariantsMatchTfjs,
  expectUnsupportedRecurrentOptionsRefused,
} from "../../testing/rnn_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("LSTM matches TF.js on post-padded mask_zero ids (every variant)", async () => {
  await tfReady();
  expectRecurrentVariantsMatchTfjs(new Rng(42), "LSTM");
});

Deno.test("LSTM: stateful, return_state and softmax activation are refused by name", () => {
  expectUnsupportedRecurrentOptionsRefused("LSTM");
});
