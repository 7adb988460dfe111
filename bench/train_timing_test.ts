/** `bench/train_timing.ts` (train_cnn_bench's timings): the TF.js timing runs on a one-image slice (`--tfjs-images 1`). */
import assert from "node:assert/strict";
import { timeTfjs } from "./train_timing.ts";

Deno.test("train_timing: TF.js epoch timing with one image (its warm-up takes one, not two)", async () => {
  const seconds = await timeTfjs(1, 1);
  assert.ok(Number.isFinite(seconds) && seconds > 0, String(seconds));
});
