import assert from "node:assert/strict";
import {
  PYTORCH_TRAINING,
  renderTraining,
  type TrainingResult,
  trainingTargets,
} from "./training_section.ts";

const result = (cnn1: number[], text1: number[], cnn2: number[], text2: number[]) =>
  ({
    images: 4096,
    textSamples: 1024,
    cnnEpochSeconds: { 1: cnn1, 2: cnn2 },
    textStepMs: { 1: text1, 2: text2 },
  }) satisfies TrainingResult;

Deno.test("trainingTargets: within 1.5× of PyTorch judged on the rounds' medians, per thread count", () => {
  // 1 thread: medians 30 s (0.72×) and 160 ms (1.57×: missed); 2 threads: 20 s, 70 ms.
  const t = trainingTargets(result([30, 29, 80], [160, 150, 170], [20, 21, 19], [70, 72, 69]));
  assert.equal(t.length, 2);
  assert.equal(t[0].met, false);
  assert.match(t[0].measured, /CNN 30\.0 s \(0\.72×\), BiLSTM 160\.0 ms \(1\.57×\)/);
  assert.equal(t[1].met, true);
  assert.match(t[1].target, /2 threads/);
  // Exactly 1.5× still meets it.
  const edge = trainingTargets(
    result(
      [PYTORCH_TRAINING.cnnEpochSeconds[1] * 1.5],
      [PYTORCH_TRAINING.textStepMs[1]],
      [],
      [],
    ),
  );
  assert.equal(edge.length, 1);
  assert.equal(edge[0].met, true);
});

Deno.test("renderTraining: a row per measurement and thread count with min–max and the ratio", () => {
  const md = renderTraining(result([27.0, 26.8], [71.9, 71.0], [15.2, 14.7], [45.6, 41.3])).join(
    "\n",
  );
  assert.match(md, /## Training/);
  assert.match(
    md,
    /\| seeds CNN, s per 40,000-image epoch \| 1 \| 26\.8–27\.0 \| 41\.9 \| 0\.64 \|/,
  );
  assert.match(md, /\| BiLSTM-64 step, batch 64, ms \| 2 \| 41\.3–45\.6 \| 75 \| 0\.55 \|/);
  assert.match(md, /2 interleaved rounds/);
});
