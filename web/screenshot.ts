/**
 * Takes a PNG screenshot of the page with a model loaded and one prediction made, to look at
 * the layout: `deno run -A web/screenshot.ts out.png [model file] [token ids]`.
 * Builds the bundles into a temporary folder and serves it on a free loopback port.
 *
 * @module
 */
import { bundle } from "../scripts/bundle.ts";
import { serveStatic } from "../scripts/serve.ts";
import { launchChromium } from "./browser.ts";

const [out = "page.png", modelPath, ids] = Deno.args;
const dir = await Deno.makeTempDir({ prefix: "scratchnet-shot-" });
await bundle({ outDir: dir });
const server = await serveStatic({ root: dir, port: 0 });
const browser = await launchChromium({ viewport: { width: 900, height: 800 } });
try {
  const page = await browser.context.newPage();
  await page.goto(server.url);
  await page.waitForSelector("body[data-state=idle]");
  if (modelPath) {
    await page.setInputFiles("#model-files", modelPath);
    await page.waitForSelector("body[data-state=ready], body[data-state=error]");
    if (await page.isVisible("#ids-input")) {
      if (ids) await page.fill("#ids", ids);
      else await page.click("#random-ids");
    }
    await page.fill("#labels", "negative, neutral, positive");
    await page.click("#predict");
    await page.waitForSelector("body[data-state=predicted], body[data-state=error]");
  }
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await server.shutdown();
  await Deno.remove(dir, { recursive: true });
}
