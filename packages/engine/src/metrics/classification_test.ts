import {
  accuracy,
  classificationReport,
  confusionMatrix,
  macroF1,
  MetricsInputError,
  rocAucBinary,
  rocAucOvr,
} from "./classification.ts";

function close(a: number, b: number, what: string) {
  if (!(Math.abs(a - b) < 1e-12)) throw new Error(`${what}: ${a} ≠ ${b}`);
}

// Hand-computed case: 3 classes, 8 samples.
// true: 0 0 0 1 1 2 2 2      pred: 0 1 0 1 2 2 2 0
// confusion rows=true: [2 1 0] [0 1 1] [1 0 2]
// class 0: tp 2, predicted 3, actual 3 → p 2/3, r 2/3, f1 2/3
// class 1: tp 1, predicted 2, actual 2 → p 1/2, r 1/2, f1 1/2
// class 2: tp 2, predicted 3, actual 3 → p 2/3, r 2/3, f1 2/3
// macro f1 = (2/3 + 1/2 + 2/3)/3 = 11/18; weighted = (3·2/3 + 2·1/2 + 3·2/3)/8 = 5/8; accuracy 5/8.
const yTrue = [0, 0, 0, 1, 1, 2, 2, 2];
const yPred = [0, 1, 0, 1, 2, 2, 2, 0];

Deno.test("confusion matrix, per-class and averaged scores on a hand-computed case", () => {
  const cm = confusionMatrix(yTrue, yPred, 3);
  if (JSON.stringify(cm) !== "[[2,1,0],[0,1,1],[1,0,2]]") throw new Error(JSON.stringify(cm));
  const r = classificationReport(yTrue, yPred, 3);
  close(r.accuracy, 5 / 8, "accuracy");
  close(r.precision[1], 1 / 2, "p1");
  close(r.recall[0], 2 / 3, "r0");
  close(r.macro.f1, 11 / 18, "macro f1");
  close(r.weighted.f1, 5 / 8, "weighted f1");
  close(macroF1(yTrue, yPred, 3), 11 / 18, "macroF1");
  close(accuracy([1, 2], [1, 3]), 0.5, "accuracy");
});

Deno.test("a class never predicted has precision 0, not NaN", () => {
  const r = classificationReport([0, 1, 2], [0, 0, 0], 3);
  close(r.precision[1], 0, "p1");
  close(r.f1[2], 0, "f1 2");
  close(r.precision[0], 1 / 3, "p0");
  close(r.macro.f1, (0.5 + 0 + 0) / 3, "macro");
});

Deno.test("ROC-AUC: hand-computed binary case with a tie, and one-vs-rest", () => {
  // positives scores 0.8, 0.4; negatives 0.4, 0.1 → pairs: (0.8>0.4)1 (0.8>0.1)1 (0.4=0.4).5 (0.4>0.1)1 → 3.5/4
  close(rocAucBinary([1, 0, 1, 0], [0.8, 0.4, 0.4, 0.1]), 3.5 / 4, "auc");
  close(rocAucBinary([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]), 1, "perfect");
  if (!Number.isNaN(rocAucBinary([1, 1], [0.2, 0.3]))) throw new Error("one class → NaN");
  const probs = [0.8, 0.1, 0.1, 0.2, 0.7, 0.1, 0.1, 0.2, 0.7];
  close(rocAucOvr([0, 1, 2], probs, 3), 1, "ovr perfect");
});

Deno.test("mismatched lengths and out-of-range classes are typed errors", () => {
  for (const fn of [() => confusionMatrix([0, 1], [0]), () => confusionMatrix([0, 3], [0, 1], 3)]) {
    let ok = false;
    try {
      fn();
    } catch (e) {
      ok = e instanceof MetricsInputError;
    }
    if (!ok) throw new Error("expected MetricsInputError");
  }
});
