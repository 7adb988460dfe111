/** Where training workers load their entry module from. */
import { TrainingConfigError } from "../errors.ts";
import { defaultTrainingWorkerUrl } from "./default_worker_url.ts";

let configured: URL | undefined;

/**
 * Sets where training workers load their entry module from. By default it is `worker.ts` beside
 * this module when the engine runs from its sources (as in Deno), and `training_worker.js` beside
 * the bundle in the bundles of `deno task bundle`. Set it when the worker is served elsewhere
 * (e.g. the engine bundle comes from another origin, whose scripts a page cannot start as
 * workers), or for an engine bundled by another tool: point it at a bundle of
 * `src/training/parallel/worker.ts` (until then, `workers: "auto"` trains on one thread and an
 * explicit count throws). `undefined` resets.
 */
export function setTrainingWorkerUrl(url: URL | string | undefined): void {
  if (url === undefined) {
    configured = undefined;
    return;
  }
  try {
    configured = new URL(url, pageHref());
  } catch {
    throw new TrainingConfigError("workerUrl", `expected a URL, got ${JSON.stringify(url)}`);
  }
}

/** The worker entry, or undefined when there is none (another bundler, no configured URL). */
export function trainingWorkerUrl(): URL | undefined {
  return configured ?? defaultTrainingWorkerUrl();
}

/** The page's address in a browser (relative worker URLs resolve against it). */
function pageHref(): string | undefined {
  try {
    return (globalThis as { location?: { href: string } }).location?.href;
  } catch {
    return undefined; // Deno without --location throws on access
  }
}
