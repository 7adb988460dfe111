import assert from "node:assert/strict";
import { sparseScores } from "./predict_validation.ts";

Deno.test("sparseScores: Keras's clipped cross-entropy and argmax accuracy, by hand", () => {
  // Row 0: label 1 at p 0.5 (right); row 1: label 0 at p 0 (wrong, clipped to 1e-7).
  const s = sparseScores([0.2, 0.5, 0.3, 0, 0.9, 0.1], [1, 0]);
  assert.equal(s.accuracy, 0.5);
  assert.ok(Math.abs(s.loss - (-Math.log(0.5) - Math.log(1e-7)) / 2) < 1e-12, String(s.loss));
});
