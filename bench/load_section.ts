/**
 * Load time of ~1 MB and ~50 MB model files in both formats the importer reads and writes: Keras 3
 * `.keras` (written by `saveKeras`) and legacy full-model `.h5` (the importer's test writer, Keras 3
 * naming). The models are the seeds' text model (Embedding → BiLSTM 64 → Dense); the 50 MB one
 * has a 195,000-word vocabulary, so the embedding table dominates as in real text models.
 */
import { loadModel, saveKeras } from "../packages/keras-importer/mod.ts";
import { writeLegacyH5 } from "../packages/keras-importer/testing/writers.ts";
import { Tensor } from "../packages/engine/mod.ts";
import { seedsTextSpec } from "../packages/engine/testing/seeds_models.ts";
import { summarize } from "./timing.ts";

/** One file's load timing. */
export interface LoadResult {
  file: string;
  format: "keras" | "h5";
  bytes: number;
  params: number;
  /** Median ms of loadModel (read, parse, validate, build, upload weights). */
  loadMs: number;
  loadMinMs: number;
  /** Median ms of the first predict (batch 1) right after a load. */
  firstPredictMs: number;
  runs: number;
}

/** A written model file of the benchmark. */
export interface BenchFile {
  name: string;
  path: string;
  format: "keras" | "h5";
  bytes: number;
  params: number;
}

/** Vocabulary sizes giving ~1 MB and ~50 MB files. */
const SIZES = [{ label: "1MB", vocab: 3000 }, { label: "50MB", vocab: 195_000 }];

/** Writes the benchmark files into `dir` (`quick`: the 1 MB pair only). */
export async function writeBenchFiles(dir: string, quick: boolean): Promise<BenchFile[]> {
  const files: BenchFile[] = [];
  for (const { label, vocab } of quick ? SIZES.slice(0, 1) : SIZES) {
    const spec = seedsTextSpec({ vocabSize: vocab });
    const params = Object.values(spec.weights).flat().reduce((n, w) => n + w.data.length, 0);
    const kerasPath = `${dir}/text_${label}.keras`;
    const keras = await saveKeras(spec, kerasPath);
    files.push({
      name: `text_${label}.keras`,
      path: kerasPath,
      format: "keras",
      bytes: keras.length,
      params,
    });
    const h5 = await writeLegacyH5(spec, "keras3");
    const h5Path = `${dir}/text_${label}.h5`;
    await Deno.writeFile(h5Path, h5);
    files.push({ name: `text_${label}.h5`, path: h5Path, format: "h5", bytes: h5.length, params });
  }
  return files;
}

/** Times loading each file `runs` times (plus one untimed warm-up load). */
export async function measureLoads(files: BenchFile[], quick: boolean): Promise<LoadResult[]> {
  const out: LoadResult[] = [];
  const x = new Tensor(new Int32Array(100).fill(7), [1, 100]);
  for (const f of files) {
    const runs = quick ? 2 : f.bytes > 10e6 ? 3 : 7;
    (await loadModel(f.path)).model?.dispose();
    const loads: number[] = [], predicts: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      const { model } = await loadModel(f.path);
      const t1 = performance.now();
      model!.predict(x);
      loads.push(t1 - t0);
      predicts.push(performance.now() - t1);
      model!.dispose();
    }
    const l = summarize(loads);
    out.push({
      file: f.name,
      format: f.format,
      bytes: f.bytes,
      params: f.params,
      loadMs: l.medianMs,
      loadMinMs: l.minMs,
      firstPredictMs: summarize(predicts).medianMs,
      runs,
    });
  }
  return out;
}
