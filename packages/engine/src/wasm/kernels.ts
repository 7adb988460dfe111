/**
 * Loads the compiled SIMD kernel module once per process (or worker) and exposes its exports
 * with TypeScript types, plus the heap that owns its memory.
 */
import { decodeBase64 } from "./base64.ts";
import { KERNELS_WASM_BASE64 } from "./kernels_wasm.ts";
import { WasmHeap } from "./heap.ts";

/** Raw kernel exports. Pointers are byte offsets into the module's memory. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  simdEnabled(): number;
  activate(ptr: number, n: number, code: number, alpha: number): void;
  reluGeneral(
    ptr: number,
    n: number,
    negativeSlope: number,
    maxValue: number,
    threshold: number,
  ): void;
  softmaxRows(ptr: number, rows: number, cols: number, logOutput: number): void;
  gemm(
    a: number,
    b: number,
    bias: number,
    c: number,
    m: number,
    n: number,
    k: number,
    act: number,
    alpha: number,
  ): void;
  gemmStrided(
    a: number,
    lda: number,
    b: number,
    ldb: number,
    bias: number,
    c: number,
    ldc: number,
    m: number,
    n: number,
    k: number,
    act: number,
    alpha: number,
    accumulate: number,
  ): void;
  // deno-lint-ignore no-explicit-any
  [name: string]: any;
}

/** Raised when the runtime cannot run WebAssembly SIMD. */
export class WasmUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "WasmUnavailableError";
  }
}

/** Whether this runtime validates a module that uses v128 SIMD. */
export function wasmSimdSupported(): boolean {
  // (module (func (result v128) i32.const 0 i8x16.splat))
  const probe = new Uint8Array([
    0,
    97,
    115,
    109,
    1,
    0,
    0,
    0,
    1,
    5,
    1,
    96,
    0,
    1,
    123,
    3,
    2,
    1,
    0,
    10,
    8,
    1,
    6,
    0,
    65,
    0,
    253,
    15,
    11,
  ]);
  try {
    return typeof WebAssembly === "object" && WebAssembly.validate(probe);
  } catch {
    return false;
  }
}

function instantiate(): { kernels: KernelExports; heap: WasmHeap } {
  if (!wasmSimdSupported()) {
    throw new WasmUnavailableError(
      "scratchnet needs WebAssembly with 128-bit SIMD (Chrome/Edge ≥ 91, Firefox ≥ 89, " +
        "Safari ≥ 16.4, Deno, Node ≥ 16.4); this runtime does not provide it.",
    );
  }
  const module = new WebAssembly.Module(decodeBase64(KERNELS_WASM_BASE64) as BufferSource);
  const instance = new WebAssembly.Instance(module, {
    env: {
      abort(_msg: number, _file: number, line: number, column: number) {
        throw new Error(`scratchnet kernel aborted at ${line}:${column}`);
      },
    },
  });
  const kernels = instance.exports as unknown as KernelExports;
  return { kernels, heap: new WasmHeap(kernels.memory, kernels.heapBase()) };
}

let runtime: { kernels: KernelExports; heap: WasmHeap } | undefined;

/** The process-wide kernel module and heap, created on first use. */
export function getRuntime(): { kernels: KernelExports; heap: WasmHeap } {
  runtime ??= instantiate();
  return runtime;
}
