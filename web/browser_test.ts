/**
 * End-to-end: the bundled page in headless Debian Chromium (Playwright), served from a loopback
 * port. Models are loaded through the page's file inputs, and every prediction the page shows is
 * compared with the Deno engine's output for the same model and input (≤ 1e-6).
 *
 * Needs `/usr/bin/chromium` (or `$SCRATCHNET_CHROMIUM`): `deno task test` installs Debian's
 * `chromium` first when it is missing (scripts/provision.ts); run without it, the test fails with a
 * message saying how to install it. It is never skipped.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { type Model, Tensor } from "../packages/engine/mod.ts";
import { loadModel, saveKeras } from "../packages/keras-importer/mod.ts";
import { TextVectorization } from "../packages/tokenizer/mod.ts";
import { denseModel } from "../packages/keras-importer/testing/model_specs.ts";
import { writeTfjs } from "../packages/keras-importer/testing/writers.ts";
import { bundle } from "../scripts/bundle.ts";
import { serveStatic } from "../scripts/serve.ts";
import { launchChromium } from "./browser.ts";
import { fitSequence } from "./page_logic.ts";
import { encodePng, textModelSpec } from "./test_files.ts";

const SAMPLES = new URL("../../shared/keras-samples/", import.meta.url);
const sample = (name: string) => decodeURIComponent(new URL(name, SAMPLES).pathname);
const TOLERANCE = 1e-6;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assertEquals(a.length, b.length, "output lengths differ");
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

async function pageNumbers(page: Page, attribute: "input" | "output"): Promise<number[]> {
  const json = await page.getAttribute("#probs", `data-${attribute}`);
  assert(json !== null, `#probs has no data-${attribute}`);
  return JSON.parse(json);
}

async function waitFor(page: Page, ...states: string[]): Promise<string> {
  const selector = states.map((s) => `body[data-state=${s}]`).join(", ");
  await page.waitForSelector(selector, { timeout: 30_000 });
  return (await page.getAttribute("body", "data-state"))!;
}

async function expectLoaded(page: Page, model: Model): Promise<void> {
  const state = await waitFor(page, "ready", "error");
  assertEquals(state, "ready", await page.textContent("#model-status") ?? "");
  const rows = await page.locator("#summary-rows tr").count();
  assertEquals(rows, model.layers.length);
  const total = await page.textContent("#total-params");
  assertEquals(total, model.countParams().toLocaleString("en-US"));
}

async function predictAndCompare(page: Page, model: Model, x: Tensor): Promise<number> {
  const state = await waitFor(page, "predicted", "error");
  assertEquals(state, "predicted", await page.textContent("#top-class") ?? "");
  // The page ran the input the test expects (ids, pixels ÷ 255, token ids of the sentence…).
  assertEquals(await pageNumbers(page, "input"), Array.from(x.data));
  const output = await pageNumbers(page, "output");
  const reference = model.predict(x).data;
  const diff = maxAbsDiff(output, reference);
  assert(diff <= TOLERANCE, `page vs Deno engine: max |diff| ${diff} > ${TOLERANCE}`);
  // The bar list shows one row per class, the largest marked.
  assertEquals(await page.locator("#probs li").count(), reference.length);
  const best = reference.indexOf(Math.max(...reference));
  assertEquals(await page.locator("#probs li").nth(best).getAttribute("class"), "best");
  return diff;
}

Deno.test("page in Chromium: predictions equal the Deno engine's", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "scratchnet-browser-test-" });
  const site = join(dir, "site");
  await bundle({ outDir: site });
  let server = await serveStatic({ root: site, port: 0 });
  const browser = await launchChromium();
  try {
    const page = await browser.context.newPage();
    const pageErrors: string[] = [];
    page.on("pageerror", (e) => pageErrors.push(e.message));
    await page.goto(server.url);
    await waitFor(page, "idle");
    assert((await page.getAttribute("#runtime", "class"))?.includes("ok"));

    await t.step(".keras BiLSTM with token ids", async () => {
      const path = sample("lstm_bidirectional.keras");
      const { model } = await loadModel(path);
      await page.setInputFiles("#model-files", path);
      await expectLoaded(page, model!);
      const ids = [12, 7, 431, 2, 99, 1500, 3, 2835, 64];
      await page.fill("#ids", ids.join(", "));
      await page.click("#predict");
      const x = new Tensor(fitSequence(ids, 30), [1, 30]);
      await predictAndCompare(page, model!, x);
    });

    await t.step("legacy .h5 CNN with a dropped PNG image", async () => {
      const path = sample("test3_model_2.h5");
      const { model } = await loadModel(path);
      await page.setInputFiles("#model-files", path);
      await expectLoaded(page, model!);
      const rgb = new Uint8Array(32 * 32 * 3).map((_, i) => (i * 37 + (i >> 5) * 11) % 256);
      await page.setInputFiles("#image-file", {
        name: "pattern.png",
        mimeType: "image/png",
        buffer: Buffer.from(await encodePng(rgb, 32, 32)),
      });
      // A 32×32 image fills the 32×32 input exactly: the input is the pixels ÷ 255.
      const x = new Tensor(Float32Array.from(rgb, (v) => v / 255), [1, 32, 32, 3]);
      await predictAndCompare(page, model!, x);
    });

    await t.step("a sentence through a TextVectorization .keras tokenizer", async () => {
      const vectorizerPath = sample("vectorizer.keras");
      const { preprocessing } = await loadModel(vectorizerPath);
      const tokenizer = TextVectorization.fromConfig(
        preprocessing[0].config,
        preprocessing[0].vocabulary,
      );
      const length = tokenizer.outputSequenceLength!;
      const modelPath = join(dir, "text_classifier.keras");
      await saveKeras(textModelSpec(tokenizer.vocabularySize(), length), modelPath);
      const { model } = await loadModel(modelPath);
      await page.setInputFiles("#model-files", modelPath);
      await expectLoaded(page, model!);
      await page.setInputFiles("#tokenizer-file", vectorizerPath);
      await page.waitForSelector("#text-input:not([hidden])");
      const sentence = "Makanannya enak sekali, pelayanannya juga ramah!";
      await page.fill("#text", sentence);
      await page.click("#predict");
      const ids = tokenizer.call([sentence]).data as Int32Array;
      assert(ids.some((id) => id > 1), "the sentence should hit known tokens");
      await predictAndCompare(page, model!, new Tensor(ids, [1, length]));
    });

    await t.step("TF.js model.json with its shard", async () => {
      const { spec } = denseModel(5);
      const exported = writeTfjs(spec);
      const files = [
        {
          name: "model.json",
          mimeType: "application/json",
          buffer: Buffer.from(JSON.stringify(exported.modelJson)),
        },
        ...[...exported.files].map(([name, bytes]) => ({
          name,
          mimeType: "application/octet-stream",
          buffer: Buffer.from(bytes),
        })),
      ];
      const { model } = await loadModel({
        modelJson: exported.modelJson,
        shards: [...exported.files.values()],
      });
      await page.setInputFiles("#model-files", files);
      await expectLoaded(page, model!);
      const values = [0.5, -1, 0.25, 2, -0.75, 0, 1.5, -2];
      await page.fill("#numbers", values.join(" "));
      await page.click("#predict");
      await predictAndCompare(page, model!, new Tensor(Float32Array.from(values), [1, 8]));
    });

    await t.step("a file that is not a model gets the importer's error", async () => {
      await page.setInputFiles("#model-files", {
        name: "broken.keras",
        mimeType: "application/zip",
        buffer: Buffer.from("PK\x03\x04 not really a zip"),
      });
      assertEquals(await waitFor(page, "ready", "error"), "error");
      const message = await page.textContent("#model-status");
      assert(/broken\.keras/.test(message ?? ""), `message names the file: ${message}`);
    });

    await t.step("works offline once loaded (service worker)", async () => {
      await page.evaluate(async () => {
        const nav = navigator as unknown as { serviceWorker: { ready: Promise<unknown> } };
        await nav.serviceWorker.ready;
      });
      await server.shutdown();
      await page.reload();
      await waitFor(page, "idle");
      const path = sample("lstm_bidirectional.keras");
      const { model } = await loadModel(path);
      await page.setInputFiles("#model-files", path);
      await expectLoaded(page, model!);
      await page.fill("#ids", "5 6 7");
      await page.click("#predict");
      await predictAndCompare(page, model!, new Tensor(fitSequence([5, 6, 7], 30), [1, 30]));
      server = await serveStatic({ root: site, port: 0 });
    });

    await t.step("a clear message where WebAssembly SIMD is missing", async () => {
      const noSimd = await browser.context.newPage();
      // Make the engine's SIMD probe fail, as in a browser without WASM SIMD.
      await noSimd.addInitScript(() => {
        WebAssembly.validate = () => false;
      });
      await noSimd.goto(server.url);
      await waitFor(noSimd, "idle");
      const runtime = await noSimd.textContent("#runtime");
      assert(/cannot run WebAssembly SIMD/.test(runtime ?? ""), runtime ?? "");
      assert((await noSimd.getAttribute("#runtime", "class"))?.includes("bad"));
      assert(await noSimd.isDisabled("#model-files"));
      await noSimd.close();
    });

    assertEquals(pageErrors, [], "uncaught errors in the page");
  } finally {
    await browser.close();
    await server.shutdown().catch(() => {});
    await Deno.remove(dir, { recursive: true });
  }
});
