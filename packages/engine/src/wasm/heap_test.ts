import { WasmHeap } from "./heap.ts";

Deno.test("WasmHeap reuses freed blocks, coalesces, and stops growing in a steady state", () => {
  const memory = new WebAssembly.Memory({ initial: 1 });
  const heap = new WasmHeap(memory, 1024);
  const a = heap.alloc(100), b = heap.alloc(200), c = heap.alloc(300);
  if (a % 16 || b % 16 || c % 16) throw new Error("allocations must be 16-byte aligned");
  heap.free(b);
  const d = heap.alloc(150);
  if (d !== b) throw new Error("a freed block that fits should be reused");
  heap.free(a);
  heap.free(d);
  heap.free(c);
  if (heap.liveCount !== 0) throw new Error("all freed");
  const big = heap.alloc(600);
  if (big !== a) throw new Error("neighbours should coalesce back into one block");
  heap.free(big);
  for (let i = 0; i < 1000; i++) {
    const p = heap.alloc(100_000);
    const q = heap.alloc(3_000);
    heap.free(p);
    heap.free(q);
  }
  const bytes = heap.memoryBytes;
  for (let i = 0; i < 1000; i++) {
    const p = heap.alloc(100_000);
    const q = heap.alloc(3_000);
    heap.free(q);
    heap.free(p);
  }
  if (heap.memoryBytes !== bytes) throw new Error("memory grew in a steady state");
});

Deno.test("WasmHeap.free rejects a pointer it did not hand out", () => {
  const heap = new WasmHeap(new WebAssembly.Memory({ initial: 1 }), 0);
  let threw = false;
  try {
    heap.free(12345);
  } catch {
    threw = true;
  }
  if (!threw) throw new Error("expected a throw");
});
