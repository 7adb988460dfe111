/** Where training workers load their entry module from. */
import { TrainingConfigError } from "../errors.ts";

let configured: URL | undefined;

/**
 * Sets where training workers load their entry module from. By default it is `worker.ts` beside
 * this module, which exists when the engine runs from its sources (as in Deno); a bundled engine
 * must point this at a bundle of `src/training/parallel/worker.ts` to train with workers (until
 * then, `workers: "auto"` trains on one thread and an explicit count throws). `undefined` resets.
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

/** The worker entry, or undefined when there is none (a bundle without a configured URL). */
export function trainingWorkerUrl(): URL | undefined {
  if (configured) return configured;
  // From the sources this module is `…/worker_url.ts` with `worker.ts` beside it; bundled, it
  // is part of another file and there is no such sibling.
  return import.meta.url.endsWith("/worker_url.ts")
    ? new URL("./worker.ts", import.meta.url)
    : undefined;
}

/** The page's address in a browser (relative worker URLs resolve against it). */
function pageHref(): string | undefined {
  try {
    return (globalThis as { location?: { href: string } }).location?.href;
  } catch {
    return undefined; // Deno without --location throws on access
  }
}
