/**
 * TF.js with its cpu and wasm (XNNPACK) backends in one process, for benches that compare the
 * engine with both in the same run.
 */
import * as tf from "@tensorflow/tfjs";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

export { tf };

let wasmPathSet = false;

/** Switches TF.js to `backend` ("cpu" | "wasm"), loading the wasm binaries from the npm package. */
export async function useTfjsBackend(backend: "cpu" | "wasm"): Promise<void> {
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
