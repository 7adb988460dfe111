/**
 * What an edge bundle's entry imports (`deno task bundle:worker` bundles this module as
 * `serving.js`): the handler over model bytes, and the precompiled-WebAssembly hook workerd needs.
 *
 * @module
 */
export { type BundledModelFiles, createBundledHandler, readPreprocessing } from "./bundled.ts";
export { type PrecompiledWasm, usePrecompiledWasm, wasmFingerprint } from "./precompiled_wasm.ts";
export type { HandlerOptions, ServingHandler } from "./handler.ts";
