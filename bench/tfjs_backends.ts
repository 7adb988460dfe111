/**
 * TF.js with its cpu and wasm (XNNPACK) backends in one process, for benches that compare the
 * engine with both in the same run.
 *
 * In Deno, TF.js sees a Node-like environment (`IS_NODE`) and so runs its single-threaded SIMD
 * wasm build (`WASM_HAS_MULTITHREAD_SUPPORT` is false; forcing the threaded build hangs).
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import type { ModelSpec, Tensor } from "../packages/engine/mod.ts";
import { tfjsModelFromSpec } from "../packages/engine/testing/tfjs_reference.ts";

export { tf };

/** The TF.js backends the benches compare against. */
export type TfjsBackend = "cpu" | "wasm";

let wasmPathSet = false;

/** Switches TF.js to `backend` ("cpu" | "wasm"), loading the wasm binaries from the npm package. */
export async function useTfjsBackend(backend: TfjsBackend): Promise<void> {
  if (tf.getBackend() === backend) return;
  if (backend === "wasm" && !wasmPathSet) {
    // The package's compiled .wasm files sit in wasm-out/ next to dist/.
    const entry = import.meta.resolve("@tensorflow/tfjs-backend-wasm");
    setWasmPaths(new URL("../wasm-out/", entry).pathname);
    wasmPathSet = true;
  }
  await tf.setBackend(backend);
  await tf.ready();
}

/** Flags describing the TF.js wasm build in use (SIMD, threads). */
export function tfjsWasmFlags(): { simd: boolean; threads: boolean } {
  return {
    simd: tf.env().getBool("WASM_HAS_SIMD_SUPPORT"),
    threads: tf.env().getBool("WASM_HAS_MULTITHREAD_SUPPORT"),
  };
}

/** A TF.js model built from an engine spec on one backend, with a synchronous predict. */
export interface TfjsRunner {
  backend: TfjsBackend;
  /** Switches TF.js to this runner's backend (call before timing `predict`). */
  activate(): Promise<void>;
  /** predict + dataSync on `x` (the backend must be active); `sink` receives the output. */
  predict(x: Tensor, sink?: (y: Float32Array | Int32Array) => void): void;
  dispose(): void;
}

/**
 * Builds `spec` as a TF.js model on `backend` (weights live in that backend), or, given `build`,
 * the model it builds on that backend (graphs: the same model and weights as `spec`; it may be
 * async, and gets the backend it builds on).
 */
export async function tfjsRunner(
  spec: ModelSpec,
  backend: TfjsBackend,
  build?: (backend: TfjsBackend) => tf.LayersModel | Promise<tf.LayersModel>,
): Promise<TfjsRunner> {
  await useTfjsBackend(backend);
  const model: tf.LayersModel = build ? await build(backend) : tfjsModelFromSpec(spec);
  return {
    backend,
    activate: () => useTfjsBackend(backend),
    predict(x: Tensor, sink?: (y: Float32Array | Int32Array) => void) {
      tf.tidy(() => {
        const input = tf.tensor(x.data, [...x.shape], x.dtype);
        const y = (model.predict(input) as tf.Tensor).dataSync() as Float32Array | Int32Array;
        sink?.(y);
      });
    },
    dispose: () => model.dispose(),
  };
}
