import assert from "node:assert/strict";
import { DerivedWeights } from "./derived_weights.ts";
import { getRuntime } from "./wasm/kernels.ts";

Deno.test("DerivedWeights: kept for one weights version, remade (the old freed) after a change", () => {
  const { heap } = getRuntime();
  const made: number[] = [];
  const freed: number[] = [];
  const free = heap.free.bind(heap);
  heap.free = (p: number) => {
    freed.push(p);
    free(p);
  };
  try {
    const derived = new DerivedWeights();
    const make = () => {
      const p = heap.alloc(64);
      made.push(p);
      return p;
    };
    const first = derived.get(heap, 3, make);
    assert.equal(derived.get(heap, 3, make), first);
    assert.deepEqual([made.length, freed.length], [1, 0]);
    const second = derived.get(heap, 4, make);
    assert.deepEqual([made, freed], [[first, second], [first]]);
    derived.free();
    assert.deepEqual(freed, [first, second]);
    // After free, the same version is made again; a make that returns 0 (none) frees nothing.
    assert.equal(derived.get(heap, 4, () => 0), 0);
    derived.free();
    assert.deepEqual(freed, [first, second]);
  } finally {
    heap.free = free;
  }
});
