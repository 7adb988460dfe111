/**
 * The training worker entry when none is configured, running from the sources: `worker.ts`
 * beside this module. Bundles replace this module with `default_worker_url_bundle.ts` (see
 * `scripts/bundle.ts`), whose entry is the worker bundle written beside the engine bundle.
 *
 * @module
 */

/** The worker entry of an engine running from its sources, or undefined when it has none. */
export function defaultTrainingWorkerUrl(): URL | undefined {
  // From the sources this module is `…/default_worker_url.ts` with `worker.ts` beside it; a
  // bundler that inlines it without substituting the bundle variant leaves no such sibling.
  return import.meta.url.endsWith("/default_worker_url.ts")
    ? new URL("./worker.ts", import.meta.url)
    : undefined;
}
