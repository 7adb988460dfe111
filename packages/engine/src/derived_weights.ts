/**
 * Device data a layer derives from its weights for inference (a kernel packed for one kernel's
 * layout), kept until the weights change: {@link DerivedWeights.get} compares the layer's
 * `weightsVersion` (and the heap) with the ones the data was made for and remakes it otherwise.
 *
 * @module
 */
import type { WasmHeap } from "./wasm/heap.ts";

/** One block of weight-derived device memory, remade when the weights change. */
export class DerivedWeights {
  #ptr = 0;
  #heap: WasmHeap | null = null;
  #version = -1;

  /**
   * The data made for `version` on `heap`: the kept pointer, or the one `make` returns after the
   * old data is freed (`make` allocates on `heap`; 0 means none).
   */
  get(heap: WasmHeap, version: number, make: () => number): number {
    if (this.#heap === heap && this.#version === version) return this.#ptr;
    this.free();
    this.#ptr = make();
    this.#heap = heap;
    this.#version = version;
    return this.#ptr;
  }

  /** Frees the data (the next {@link get} remakes it). */
  free(): void {
    if (this.#ptr) this.#heap?.free(this.#ptr);
    this.#ptr = 0;
    this.#heap = null;
    this.#version = -1;
  }
}
