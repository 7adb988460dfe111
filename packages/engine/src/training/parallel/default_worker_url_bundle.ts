/**
 * The training worker entry when none is configured, in the bundles of `deno task bundle`: it
 * writes `training_worker.js` (a bundle of `worker.ts`) beside each bundle containing the engine
 * and substitutes this module for `default_worker_url.ts` in them, so `import.meta.url` here is
 * that bundle's own URL (the build fails if this code would land in a shared chunk instead).
 *
 * @module
 */

/** The worker bundle beside the bundle this code is part of. */
export function defaultTrainingWorkerUrl(): URL | undefined {
  return new URL("./training_worker.js", import.meta.url);
}
