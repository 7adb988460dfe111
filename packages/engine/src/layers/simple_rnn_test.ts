import { Rng } from "../../testing/random.ts";
import {
  expectRecurrentVariantsMatchTfjs,
  expectUnsupportedRecurrentOptionsRefused,
} from "../../testing/rnn_cases.ts";
import { tfReady } from "../../testing/tfjs_reference.ts";

Deno.test("SimpleRNN matches TF.js on post-padded mask_zero ids (every variant)", async () => {
  await tfReady();
  expectRecurrentVariantsMatchTfjs(new Rng(41), "SimpleRNN");
});

Deno.test("SimpleRNN: stateful, return_state and softmax activation are refused by name", () => {
  expectUnsupportedRecurrentOptionsRefused("SimpleRNN");
});
