// Memory contract: kernels never allocate. The TypeScript heap (packages/engine/src/wasm/heap.ts)
// owns every byte from heapBase() upward and passes raw pointers to the kernels.

/** First byte the TypeScript heap may use (after AssemblyScript's static data). */
export function heapBase(): usize {
  return __heap_base;
}

/** 1 when this module was compiled with v128 SIMD (always, for this build); lets the host check. */
export function simdEnabled(): i32 {
  return 1;
}
