/**
 * Loads the compiled SIMD kernel module once per process (or worker) and exposes its exports
 * with TypeScript types, plus the heap that owns its memory.
 */
import { decodeBase64 } from "./base64.ts";
import { KERNELS_RELAXED_WASM_BASE64, KERNELS_WASM_BASE64 } from "./kernels_wasm.ts";
import { WasmHeap } from "./heap.ts";
import type { KernelFunctions } from "./kernel_exports.ts";
import { findMemoryImport, sharedMemorySupported, withUnsharedMemory } from "./memory_import.ts";

export { KERNEL_NAMES, type KernelFunctions, type KernelName } from "./kernel_exports.ts";

/**
 * Raw kernel exports: every exported function, typed from the AssemblyScript sources by
 * `deno task build:wasm` (see kernel_exports.ts), and the module's memory. No index signature: a
 * misspelt kernel or a wrong argument count fails `deno check`.
 */
export interface KernelExports extends KernelFunctions {
  memory: WebAssembly.Memory;
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

/**
 * Which build of the kernels runs: "relaxed" (relaxed SIMD: fused multiply-add, 6×8 GEMM tiles)
 * or "simd" (plain 128-bit SIMD, the fallback for runtimes without relaxed SIMD).
 */
export type KernelVariant = "relaxed" | "simd";

/** A kernel module instance with the heap over its memory. */
export interface KernelRuntime {
  kernels: KernelExports;
  heap: WasmHeap;
  variant: KernelVariant;
  /** The compiled module: worker threads instantiate it on the same memory. */
  module: WebAssembly.Module;
  /** The imported linear memory (shared where the runtime allows it). */
  memory: WebAssembly.Memory;
  /** Whether `memory` is a shared memory (a precondition for kernel threads). */
  shared: boolean;
}

function compileVariant(
  variant: KernelVariant,
  shared: boolean,
): { module: WebAssembly.Module; bytes: Uint8Array } | undefined {
  const base64 = variant === "relaxed" ? KERNELS_RELAXED_WASM_BASE64 : KERNELS_WASM_BASE64;
  const built = decodeBase64(base64);
  const bytes = shared ? built : withUnsharedMemory(built);
  try {
    return { module: new WebAssembly.Module(bytes as BufferSource), bytes };
  } catch (e) {
    // A runtime without relaxed SIMD rejects that build at compile time: fall back.
    if (variant === "relaxed" && e instanceof WebAssembly.CompileError) return undefined;
    throw e;
  }
}

/** The `env` imports of a kernel module instance on `memory`. */
export function kernelImports(memory: WebAssembly.Memory): WebAssembly.Imports {
  return {
    env: {
      memory,
      abort(_msg: number, _file: number, line: number, column: number) {
        throw new Error(`scratchnet kernel aborted at ${line}:${column}`);
      },
    },
  };
}

/**
 * Instantiates a new kernel module and heap. Without `variant`, the relaxed-SIMD build when the
 * runtime compiles it, else the plain SIMD build; tests pass a variant to check both. The memory
 * is shared when the runtime supports it (see memory_import.ts).
 */
export function instantiateKernels(variant?: KernelVariant): KernelRuntime {
  if (!wasmSimdSupported()) {
    throw new WasmUnavailableError(
      "scratchnet needs WebAssembly with 128-bit SIMD (Chrome/Edge ≥ 91, Firefox ≥ 89, " +
        "Safari ≥ 16.4, Deno, Node ≥ 16.4); this runtime does not provide it.",
    );
  }
  const shared = sharedMemorySupported();
  let chosen: KernelVariant = variant ?? "relaxed";
  let compiled = compileVariant(chosen, shared);
  if (!compiled) {
    if (variant === "relaxed") {
      throw new WasmUnavailableError("this runtime does not support WebAssembly relaxed SIMD");
    }
    chosen = "simd";
    compiled = compileVariant(chosen, shared)!;
  }
  const limits = findMemoryImport(compiled.bytes);
  if (!limits) throw new Error("scratchnet kernel module does not import its memory");
  const memory = new WebAssembly.Memory(
    { initial: limits.initial, maximum: limits.maximum, shared } as WebAssembly.MemoryDescriptor,
  );
  const instance = new WebAssembly.Instance(compiled.module, kernelImports(memory));
  const kernels = instance.exports as unknown as KernelExports;
  return {
    kernels,
    heap: new WasmHeap(memory, kernels.heapBase()),
    variant: chosen,
    module: compiled.module,
    memory,
    shared,
  };
}

let runtime: KernelRuntime | undefined;

/** The process-wide kernel module and heap, created on first use. */
export function getRuntime(): KernelRuntime {
  runtime ??= instantiateKernels();
  return runtime;
}
