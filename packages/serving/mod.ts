/**
 * `@scratchnet/serving`: a prediction service for engine models — TF Serving's REST predict API
 * (row and columnar JSON, `.npy` and image bodies), dynamic batching, limits, hot reload and
 * Prometheus metrics — as one web-standard handler that every host wraps: `Deno.serve` in
 * `scripts/serve_api.ts`, workerd / Cloudflare Workers and Deno Deploy through the edge bundle
 * (`scripts/bundle_worker.ts`, entry `edge.ts`).
 *
 * ```ts
 * import { loadModel } from "@scratchnet/keras-importer";
 * import { createHandler } from "@scratchnet/serving";
 * const handler = createHandler({ models: { sentiment: await loadModel("model.keras") } });
 * Deno.serve({ hostname: "127.0.0.1", port: 8501 }, handler);
 * ```
 *
 * @module
 */
export {
  createHandler,
  type HandlerOptions,
  type InputDType,
  type ModelEntry,
  type ServingHandler,
} from "./handler.ts";
export {
  Batcher,
  type BatcherOptions,
  type BatchOutput,
  type BatchPart,
  type BatchRunner,
} from "./batcher.ts";
export { type ErrorBody, type ErrorKind, ServingConfigError, ServingError } from "./errors.ts";
export { BATCH_BUCKETS, LATENCY_BUCKETS, Metrics } from "./metrics.ts";
export {
  decodeNpyBody,
  encodeNpy,
  NPY_BODY_DTYPES,
  type NpyBody,
  type NpyBodyDtype,
} from "./npy_body.ts";
export {
  IMAGE_TYPES,
  type ImageDecoder,
  imageDimensions,
  type ImageTarget,
  imageTargetOf,
  MAX_IMAGE_PIXELS,
  type PixelRange,
  pixelRangeOf,
} from "./image_body.ts";
export { type BundledModelFiles, createBundledHandler, readPreprocessing } from "./bundled.ts";
export { type PrecompiledWasm, usePrecompiledWasm, wasmFingerprint } from "./precompiled_wasm.ts";
