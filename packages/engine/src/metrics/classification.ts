/**
 * Classification metrics for reports: accuracy, confusion matrix, per-class precision / recall /
 * F1 with macro and weighted averages (scikit-learn's definitions, 0 where a denominator is 0),
 * and ROC-AUC (binary, and one-vs-rest macro for multi-class).
 */

/** Thrown when labels and predictions disagree in length or hold out-of-range classes. */
export class MetricsInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "MetricsInputError";
  }
}

function checkLabels(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, numClasses: number): void {
  if (yTrue.length !== yPred.length) {
    throw new MetricsInputError(`yTrue has ${yTrue.length} labels, yPred ${yPred.length}`);
  }
  for (const [what, a] of [["yTrue", yTrue], ["yPred", yPred]] as const) {
    for (let i = 0; i < a.length; i++) {
      if (!Number.isInteger(a[i]) || a[i] < 0 || a[i] >= numClasses) {
        throw new MetricsInputError(`${what}[${i}] = ${a[i]} is not a class in [0, ${numClasses})`);
      }
    }
  }
}

/** Number of classes implied by the labels (max + 1). */
export function inferNumClasses(...labels: ArrayLike<number>[]): number {
  let m = -1;
  for (const a of labels) for (let i = 0; i < a.length; i++) m = Math.max(m, a[i]);
  return m + 1;
}

/** Fraction of positions where `yTrue` equals `yPred` (0 for empty input). */
export function accuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  if (yTrue.length !== yPred.length) {
    throw new MetricsInputError(`yTrue has ${yTrue.length} labels, yPred ${yPred.length}`);
  }
  let hit = 0;
  for (let i = 0; i < yTrue.length; i++) if (yTrue[i] === yPred[i]) hit++;
  return yTrue.length ? hit / yTrue.length : 0;
}

/** `matrix[t][p]` = count of samples of true class t predicted as p. */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses: number = inferNumClasses(yTrue, yPred),
): number[][] {
  checkLabels(yTrue, yPred, numClasses);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < yTrue.length; i++) m[yTrue[i]][yPred[i]]++;
  return m;
}

/** Per-class and averaged precision / recall / F1. */
export interface ClassificationReport {
  accuracy: number;
  precision: number[];
  recall: number[];
  f1: number[];
  /** Number of true samples per class. */
  support: number[];
  macro: { precision: number; recall: number; f1: number };
  weighted: { precision: number; recall: number; f1: number };
  confusion: number[][];
}

/** Precision, recall, F1 per class, macro and support-weighted averages, and the confusion matrix. */
export function classificationReport(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses: number = inferNumClasses(yTrue, yPred),
): ClassificationReport {
  const cm = confusionMatrix(yTrue, yPred, numClasses);
  const precision: number[] = [], recall: number[] = [], f1: number[] = [], support: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const tp = cm[c][c];
    let predicted = 0, actual = 0;
    for (let k = 0; k < numClasses; k++) {
      predicted += cm[k][c];
      actual += cm[c][k];
    }
    const p = predicted ? tp / predicted : 0;
    const r = actual ? tp / actual : 0;
    precision.push(p);
    recall.push(r);
    f1.push(p + r ? (2 * p * r) / (p + r) : 0);
    support.push(actual);
  }
  const total = support.reduce((a, b) => a + b, 0);
  const mean = (a: number[]) => (a.length ? a.reduce((s, v) => s + v, 0) / a.length : 0);
  const wmean = (a: number[]) => (total ? a.reduce((s, v, i) => s + v * support[i], 0) / total : 0);
  return {
    accuracy: accuracy(yTrue, yPred),
    precision,
    recall,
    f1,
    support,
    macro: { precision: mean(precision), recall: mean(recall), f1: mean(f1) },
    weighted: { precision: wmean(precision), recall: wmean(recall), f1: wmean(f1) },
    confusion: cm,
  };
}

/** Macro-averaged F1 (the course project's headline metric). */
export function macroF1(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  numClasses?: number,
): number {
  return classificationReport(yTrue, yPred, numClasses).macro.f1;
}

/**
 * Binary ROC-AUC from scores (probability of the positive class): the probability that a random
 * positive outranks a random negative, ties counting one half (Mann–Whitney U). NaN when one class
 * is absent.
 */
export function rocAucBinary(yTrue: ArrayLike<number>, scores: ArrayLike<number>): number {
  if (yTrue.length !== scores.length) {
    throw new MetricsInputError(`yTrue has ${yTrue.length} labels, scores ${scores.length}`);
  }
  const idx = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) =>
    scores[a] - scores[b]
  );
  // Average ranks over ties.
  const ranks = new Float64Array(idx.length);
  for (let i = 0; i < idx.length;) {
    let j = i;
    while (j + 1 < idx.length && scores[idx[j + 1]] === scores[idx[i]]) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[idx[k]] = r;
    i = j + 1;
  }
  let pos = 0, rankSum = 0;
  for (let i = 0; i < yTrue.length; i++) {
    if (yTrue[i] !== 0 && yTrue[i] !== 1) {
      throw new MetricsInputError(`yTrue[${i}] = ${yTrue[i]} is not 0 or 1`);
    }
    if (yTrue[i] === 1) {
      pos++;
      rankSum += ranks[i];
    }
  }
  const neg = yTrue.length - pos;
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/**
 * One-vs-rest macro ROC-AUC from a [n, classes] probability matrix; classes absent from `yTrue`
 * are left out of the average (as scikit-learn would refuse them).
 */
export function rocAucOvr(
  yTrue: ArrayLike<number>,
  probs: ArrayLike<number>,
  numClasses: number,
): number {
  if (probs.length !== yTrue.length * numClasses) {
    throw new MetricsInputError(
      `probs has ${probs.length} values, expected ${yTrue.length} × ${numClasses}`,
    );
  }
  const aucs: number[] = [];
  for (let c = 0; c < numClasses; c++) {
    const y = Array.from(yTrue, (t) => (t === c ? 1 : 0));
    const s = Array.from({ length: yTrue.length }, (_, i) => probs[i * numClasses + c]);
    const auc = rocAucBinary(y, s);
    if (!Number.isNaN(auc)) aucs.push(auc);
  }
  return aucs.length ? aucs.reduce((a, b) => a + b, 0) / aucs.length : NaN;
}
