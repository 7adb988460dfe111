/**
 * `bench:report`'s training section (issue 18): one epoch of `Model.fit` on the seeds' CNN and
 * on the seeds' BiLSTM text model, on 1 and 2 threads, in interleaved rounds, against the PyTorch
 * figures the issue quotes (PyTorch cannot run on this machine), and the target "within 1.5× of
 * PyTorch" judged on the rounds' medians.
 *
 * @module
 */
import { timeEngine, timeText } from "./train_timing.ts";
import type { TargetResult } from "./report_markdown.ts";

/**
 * PyTorch 1.13 on CPU (AVX-512 BLAS), measured elsewhere and quoted by issue 18: seconds per
 * 40,000-image epoch of the seeds' CNN and milliseconds per batch-64 Adam step of the seeds'
 * BiLSTM-64, on 1 and 2 threads.
 */
export const PYTORCH_TRAINING = {
  cnnEpochSeconds: { 1: 41.9, 2: 22.5 },
  textStepMs: { 1: 102, 2: 75 },
} as const;

/** Images of the epoch the CNN's time is extrapolated to (CIFAR-10's training split less 10k). */
export const EPOCH_IMAGES = 40_000;

/** What the section measured: per thread count, every round's time. */
export interface TrainingResult {
  /** Images each CNN round trains on (one epoch over them, batch 64). */
  images: number;
  /** Samples each text round trains on (batch 64). */
  textSamples: number;
  /** Per thread count: seconds per {@link EPOCH_IMAGES}-image epoch, one entry per round. */
  cnnEpochSeconds: Record<number, number[]>;
  /** Per thread count: milliseconds per batch-64 step of the BiLSTM-64, one per round. */
  textStepMs: Record<number, number[]>;
}

const BATCH = 64;

/** Times `rounds` rounds of 1 and 2 threads, interleaved (`quick`: smaller slices, 1 round). */
export async function measureTraining(
  quick: boolean,
  log: (message: string) => void = () => {},
): Promise<TrainingResult> {
  const images = quick ? 512 : 4096;
  const textSamples = quick ? 256 : 1024;
  const rounds = quick ? 1 : 3;
  const result: TrainingResult = { images, textSamples, cnnEpochSeconds: {}, textStepMs: {} };
  for (let round = 0; round < rounds; round++) {
    for (const threads of [1, 2]) {
      const cnn = await timeEngine(images, BATCH, threads);
      const epoch = (cnn.seconds / images) * EPOCH_IMAGES;
      (result.cnnEpochSeconds[threads] ??= []).push(epoch);
      const text = await timeText(textSamples, BATCH, threads);
      const step = (text.seconds / Math.ceil(textSamples / BATCH)) * 1000;
      (result.textStepMs[threads] ??= []).push(step);
      log(
        `  round ${round + 1}, ${threads} thread${threads > 1 ? "s" : ""}: CNN ${
          epoch.toFixed(1)
        } s per epoch, BiLSTM ${step.toFixed(1)} ms per step`,
      );
    }
  }
  return result;
}

/** The middle value (the lower of the two middle ones for an even count). */
function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[(s.length - 1) >> 1];
}

const range = (xs: readonly number[], digits: number) => {
  const lo = Math.min(...xs), hi = Math.max(...xs);
  return lo.toFixed(digits) === hi.toFixed(digits)
    ? lo.toFixed(digits)
    : `${lo.toFixed(digits)}–${hi.toFixed(digits)}`;
};

/** Engine ÷ PyTorch (time ratios: below 1 is faster) of the rounds' medians, per measurement. */
function ratios(t: TrainingResult, threads: 1 | 2): { cnn?: number; text?: number } {
  const cnn = t.cnnEpochSeconds[threads], text = t.textStepMs[threads];
  return {
    cnn: cnn?.length ? median(cnn) / PYTORCH_TRAINING.cnnEpochSeconds[threads] : undefined,
    text: text?.length ? median(text) / PYTORCH_TRAINING.textStepMs[threads] : undefined,
  };
}

/** Issue 18's "training per epoch / per step within 1.5× of the PyTorch figures", per thread count. */
export function trainingTargets(t: TrainingResult): TargetResult[] {
  const out: TargetResult[] = [];
  for (const threads of [1, 2] as const) {
    const { cnn, text } = ratios(t, threads);
    if (cnn === undefined || text === undefined) continue;
    out.push({
      target: `training within 1.5× of PyTorch 1.13, ${threads} thread${threads > 1 ? "s" : ""} ` +
        `(seeds CNN epoch, BiLSTM-64 step)`,
      measured: `CNN ${median(t.cnnEpochSeconds[threads]).toFixed(1)} s (${cnn.toFixed(2)}×), ` +
        `BiLSTM ${median(t.textStepMs[threads]).toFixed(1)} ms (${text.toFixed(2)}×)`,
      met: cnn <= 1.5 && text <= 1.5,
    });
  }
  return out;
}

/** The section's markdown lines. */
export function renderTraining(t: TrainingResult): string[] {
  const rows: string[][] = [];
  for (const threads of [1, 2] as const) {
    const { cnn, text } = ratios(t, threads);
    const epochs = t.cnnEpochSeconds[threads], steps = t.textStepMs[threads];
    if (epochs?.length) {
      rows.push([
        `seeds CNN, s per ${EPOCH_IMAGES.toLocaleString("en-US")}-image epoch`,
        String(threads),
        range(epochs, 1),
        String(PYTORCH_TRAINING.cnnEpochSeconds[threads]),
        cnn!.toFixed(2),
      ]);
    }
    if (steps?.length) {
      rows.push([
        "BiLSTM-64 step, batch 64, ms",
        String(threads),
        range(steps, 1),
        String(PYTORCH_TRAINING.textStepMs[threads]),
        text!.toFixed(2),
      ]);
    }
  }
  const rounds = Math.max(...Object.values(t.cnnEpochSeconds).map((r) => r.length), 0);
  return [
    "## Training: against PyTorch's figures",
    "",
    `\`Model.fit\` (Adam, batch 64) for one epoch over ${t.images.toLocaleString("en-US")} ` +
    `synthetic images on the seeds' CNN (32×32×3, 3 × Conv-Pool 32/64/64; extrapolated to ` +
    `${EPOCH_IMAGES.toLocaleString("en-US")} images) and over ${
      t.textSamples.toLocaleString("en-US")
    } ` +
    `random id ` +
    `sequences on the seeds' BiLSTM-64 text model (vocabulary 3,000, length 100), on 1 and 2 ` +
    `threads (\`workers\`), ${rounds} interleaved round${rounds === 1 ? "" : "s"} (min–max; the ` +
    `ratio uses the median). PyTorch 1.13 on CPU (AVX-512 BLAS) cannot run here: its figures ` +
    `are those issue 18 quotes, measured elsewhere. Ratio = engine time ÷ PyTorch time (below 1: ` +
    `the engine is faster).`,
    "",
    "| measurement | threads | engine | PyTorch | engine ÷ PyTorch |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows.map((r) => `| ${r.join(" | ")} |`),
    "",
  ];
}
