/**
 * Launching Debian's Chromium with Playwright for the page's end-to-end test and screenshots:
 * headless, no sandbox (CI runs as root), no GPU, no background network traffic, and a fresh
 * user-data directory that is removed on close.
 *
 * @module
 */
import { type BrowserContext, chromium } from "playwright-core";
import { ChromiumMissingError, chromiumPath } from "./chromium.ts";

export { CHROMIUM_PATH, ChromiumMissingError, chromiumPath } from "./chromium.ts";

/** The flags every launch uses. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A running browser and how to close it (which also removes its profile directory). */
export interface LaunchedBrowser {
  context: BrowserContext;
  close(): Promise<void>;
}

/**
 * Starts headless Chromium with a fresh profile. Playwright passes the profile as
 * `--user-data-dir` itself (it refuses the flag in `args`).
 */
export async function launchChromium(
  options: { viewport?: { width: number; height: number } } = {},
): Promise<LaunchedBrowser> {
  const executablePath = chromiumPath();
  try {
    await Deno.stat(executablePath);
  } catch {
    throw new ChromiumMissingError(executablePath);
  }
  const profile = await Deno.makeTempDir({ prefix: "scratchnet-chromium-" });
  try {
    const context = await chromium.launchPersistentContext(profile, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_ARGS],
      viewport: options.viewport ?? { width: 1000, height: 900 },
    });
    return {
      context,
      close: async () => {
        try {
          await context.close();
        } finally {
          await Deno.remove(profile, { recursive: true }).catch(() => {});
        }
      },
    };
  } catch (e) {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
    throw e;
  }
}
