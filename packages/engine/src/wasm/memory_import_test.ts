import { decodeBase64 } from "./base64.ts";
import { KERNELS_RELAXED_WASM_BASE64, KERNELS_WASM_BASE64 } from "./kernels_wasm.ts";
import { type KernelExports, kernelImports } from "./kernels.ts";
import { findMemoryImport, withUnsharedMemory } from "./memory_import.ts";

Deno.test("kernel builds import a shared memory; clearing the flag gives a working unshared module", () => {
  for (const base64 of [KERNELS_WASM_BASE64, KERNELS_RELAXED_WASM_BASE64]) {
    const bytes = decodeBase64(base64);
    const mem = findMemoryImport(bytes);
    if (!mem || !mem.shared || mem.maximum !== 65536 || mem.initial < 1) {
      throw new Error(`unexpected memory import ${JSON.stringify(mem)}`);
    }
    const unshared = withUnsharedMemory(bytes);
    const after = findMemoryImport(unshared)!;
    if (after.shared || after.initial !== mem.initial || after.maximum !== mem.maximum) {
      throw new Error(`flag not cleared: ${JSON.stringify(after)}`);
    }
    if (findMemoryImport(bytes)!.shared !== true) throw new Error("the input was modified");
    let module: WebAssembly.Module;
    try {
      module = new WebAssembly.Module(unshared as BufferSource);
    } catch (e) {
      if (base64 === KERNELS_RELAXED_WASM_BASE64) continue; // no relaxed SIMD here
      throw e;
    }
    const memory = new WebAssembly.Memory({ initial: mem.initial + 1, maximum: mem.maximum });
    const k = new WebAssembly.Instance(module, kernelImports(memory))
      .exports as unknown as KernelExports;
    const base = (k.heapBase() + 15) & ~15;
    const f = new Float32Array(memory.buffer, base, 3);
    f.set([-1, 2, -3]);
    k.activate(base, 3, 1, 0);
    if (f[0] !== 0 || f[1] !== 2 || f[2] !== 0) throw new Error(`relu gave ${f}`);
  }
});

Deno.test("findMemoryImport: a module that defines its own memory has none", () => {
  // (module (memory 1))
  const bytes = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 3, 1, 0, 1]);
  if (findMemoryImport(bytes) !== undefined) throw new Error("expected undefined");
  if (withUnsharedMemory(bytes) !== bytes) throw new Error("expected the same bytes back");
});
