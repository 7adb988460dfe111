/**
 * End-to-end: data-parallel training in headless Debian Chromium with the bundles alone. A page
 * (served without cross-origin isolation, as the training workers need no shared memory) imports
 * `scratchnet.js`, builds a small CNN and fits it on 1, 2 and 3 threads; the bundled engine starts
 * `training_worker.js` beside it with no setup, the runs agree with each other and with the Deno
 * engine, and `setTrainingWorkerUrl` still overrides the worker's location.
 *
 * Needs `/usr/bin/chromium` like `browser_test.ts`; it is never skipped.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { join } from "node:path";
import { buildModel, type ModelSpec, Tensor } from "../packages/engine/mod.ts";
import { bundle } from "../scripts/bundle.ts";
import { serveStatic } from "../scripts/serve.ts";
import { launchChromium } from "./browser.ts";

/** Relative weight difference allowed between thread counts (as the Deno parallel tests). */
const TOLERANCE = 5.6e-7;
const SAMPLES = 96, SIZE = 8, CLASSES = 3;
const FIT = { epochs: 2, batchSize: 32, verbose: 0 as const };
const COMPILE = { optimizer: "adam", loss: "sparse_categorical_crossentropy", seed: 5 };
const INIT_SEED = 7;

/** Conv2D → Dropout → Flatten → Dense softmax on 8×8×1, initialized by the engine (seeded). */
const SPEC: ModelSpec = {
  config: {
    class_name: "Sequential",
    config: {
      name: "browser_training",
      layers: [
        { class_name: "InputLayer", config: { name: "in", batch_shape: [null, SIZE, SIZE, 1] } },
        {
          class_name: "Conv2D",
          config: { name: "conv", filters: 4, kernel_size: [3, 3], activation: "relu" },
        },
        { class_name: "Dropout", config: { name: "drop", rate: 0.25 } },
        { class_name: "Flatten", config: { name: "flat" } },
        { class_name: "Dense", config: { name: "out", units: CLASSES, activation: "softmax" } },
      ],
    },
  },
  weights: {},
};

/** Images whose class is where a bright stripe is (top, middle, bottom), with a little noise. */
function dataset(): { x: number[]; y: number[] } {
  const x: number[] = [], y: number[] = [];
  for (let n = 0; n < SAMPLES; n++) {
    const label = n % CLASSES;
    y.push(label);
    for (let i = 0; i < SIZE * SIZE; i++) {
      const row = Math.floor(i / SIZE);
      const stripe = Math.floor(row / 3) === label ? 1 : 0;
      x.push(stripe + 0.2 * Math.sin(n * 7.1 + i * 1.3));
    }
  }
  return { x, y };
}

/** One fit in the page. */
interface PageRun {
  threads: number;
  loss: number[];
  weights: number[][];
  /** Workers the page constructed during the fit: URL, type and whether terminated since. */
  workers: { url: string; type: string; terminated: boolean }[];
}

/** Max |Δw| / max(1, max |w|) over every weight. */
function weightDiff(a: ArrayLike<number>[], b: ArrayLike<number>[]): number {
  assertEquals(a.length, b.length, "weight counts differ");
  let d = 0;
  a.forEach((w, i) => {
    assertEquals(w.length, b[i].length, `weight ${i}: sizes differ`);
    const scale = Math.max(1, ...Array.from(b[i], Math.abs));
    for (let j = 0; j < w.length; j++) d = Math.max(d, Math.abs(w[j] - b[i][j]) / scale);
  });
  return d;
}

Deno.test("training in Chromium: the bundled engine trains with Web Workers", async () => {
  const dir = await Deno.makeTempDir({ prefix: "scratchnet-browser-training-test-" });
  const site = join(dir, "site");
  await bundle({ outDir: site });
  // A blank page of the same origin: the test imports the bundle itself.
  await Deno.writeTextFile(join(site, "blank.html"), "<!doctype html><title>blank</title>\n");
  const server = await serveStatic({ root: site, port: 0 });
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    // Record every Worker the page starts (the engine's pool constructs the global `Worker`).
    await page.addInitScript(() => {
      const Native = globalThis.Worker;
      const log: { url: string; type: string; terminated: boolean }[] = [];
      (globalThis as unknown as { workerLog: typeof log }).workerLog = log;
      globalThis.Worker = class extends Native {
        #entry: { url: string; type: string; terminated: boolean };
        constructor(url: string | URL, options?: WorkerOptions) {
          super(url, options);
          this.#entry = { url: String(url), type: options?.type ?? "classic", terminated: false };
          log.push(this.#entry);
        }
        override terminate(): void {
          this.#entry.terminated = true;
          super.terminate();
        }
      };
    });
    await page.goto(`${server.url}blank.html`);
    const { x, y } = dataset();
    const result = await page.evaluate(async (args) => {
      const sn = await import(args.bundle);
      const { engine } = sn;
      const log = (globalThis as unknown as { workerLog: PageRun["workers"] }).workerLog;
      const xs = new sn.Tensor(Float32Array.from(args.x), [args.samples, args.size, args.size, 1]);
      const ys = new sn.Tensor(Float32Array.from(args.y), [args.samples]);
      const fit = async (threads: number): Promise<PageRun> => {
        const model = sn.buildModel(args.spec, { initialize: { seed: args.initSeed } });
        model.compile(args.compile);
        const before = log.length;
        const history = await model.fit(xs, ys, { ...args.fit, workers: threads });
        const weights = model.getWeights().map((w: { data: Float32Array }) => Array.from(w.data));
        model.dispose();
        return { threads, loss: history.history.loss, weights, workers: log.slice(before) };
      };
      const runs: PageRun[] = [];
      for (const threads of [1, 2, 3]) runs.push(await fit(threads));
      // An explicit location still wins over the bundle's default.
      engine.setTrainingWorkerUrl("./no_such_worker.js");
      const before = log.length;
      let override = "";
      try {
        await fit(2);
        override = "fit resolved";
      } catch (e) {
        const err = e as Error;
        override = `${e instanceof engine.TrainingWorkerError}: ${err.name}: ${err.message}`;
      } finally {
        engine.setTrainingWorkerUrl(undefined);
      }
      return {
        runs,
        override,
        overrideWorkers: log.slice(before),
        isolated: (globalThis as unknown as { crossOriginIsolated: boolean }).crossOriginIsolated,
      };
    }, {
      bundle: `${server.url}scratchnet.js`,
      spec: SPEC,
      x,
      y,
      samples: SAMPLES,
      size: SIZE,
      initSeed: INIT_SEED,
      compile: COMPILE,
      fit: FIT,
    });

    // No shared memory needed: the page is not cross-origin isolated.
    assertEquals(result.isolated, false);
    const workerUrl = `${server.url}training_worker.js`;
    for (const run of result.runs) {
      // n threads = this thread plus n − 1 module workers, all started from the bundled worker and
      // terminated when the fit ends.
      assertEquals(
        run.workers,
        Array.from({ length: run.threads - 1 }, () => ({
          url: workerUrl,
          type: "module",
          terminated: true,
        })),
        `${run.threads} threads`,
      );
      console.log(`browser, ${run.threads} threads: loss ${run.loss.map((l) => l.toFixed(4))}`);
      assertEquals(run.loss.length, FIT.epochs);
      assert(run.loss[1] < run.loss[0], `${run.threads} threads: loss ${run.loss} did not go down`);
    }
    const [one, ...parallel] = result.runs;
    for (const run of parallel) {
      const d = weightDiff(run.weights, one.weights);
      console.log(`browser, ${run.threads} threads vs 1: weights ${d.toExponential(2)}`);
      assert(d <= TOLERANCE, `${run.threads} threads vs 1: ${d} > ${TOLERANCE}`);
    }

    // The same fit on the Deno engine from the sources (one thread).
    const model = buildModel(SPEC, { initialize: { seed: INIT_SEED } });
    model.compile(COMPILE);
    const xs = new Tensor(Float32Array.from(x), [SAMPLES, SIZE, SIZE, 1]);
    const ys = new Tensor(Float32Array.from(y), [SAMPLES]);
    await model.fit(xs, ys, { ...FIT, workers: 1 });
    const denoWeights = model.getWeights().map((w) => w.data);
    model.dispose();
    const initial = buildModel(SPEC, { initialize: { seed: INIT_SEED } });
    const moved = weightDiff(denoWeights, initial.getWeights().map((w) => w.data));
    initial.dispose();
    assert(moved > 1e-3, `weights barely moved: ${moved}`);
    const d = weightDiff(one.weights, denoWeights);
    console.log(`browser vs Deno: weights ${d.toExponential(2)} (moved ${moved.toExponential(2)})`);
    assert(d <= TOLERANCE, `browser vs Deno: ${d} > ${TOLERANCE}`);

    assert(/^true: TrainingWorkerError: /.test(result.override), result.override);
    assertEquals(result.overrideWorkers.map((w) => w.url), [`${server.url}no_such_worker.js`]);
    assertEquals(result.overrideWorkers[0].terminated, true);
    assertEquals(pageErrors, [], "uncaught errors in the page");
  } finally {
    await browser.close();
    await server.shutdown().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
