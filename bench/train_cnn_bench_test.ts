/** `bench/train_cnn_bench.ts`: the TF.js timing runs on a one-image slice (`--tfjs-images 1`). */
import assert from "node:assert/strict";
import { timeTfjs } from "./train_cnn_bench.ts";

Deno.test("train_cnn_bench: TF.js epoch timing with one image (its warm-up takes one, not two)", async () => {
  const seconds = await timeTfjs(1, 1);
  assert.ok(Number.isFinite(seconds) && seconds > 0, String(seconds));
});
