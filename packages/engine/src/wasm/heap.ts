/**
 * A first-fit free-list allocator over the kernel module's linear memory.
 *
 * Kernels never allocate; every buffer they touch comes from here. Freed blocks are coalesced and
 * reused, so a steady stream of predicts of the same shape stops growing memory after the first.
 */
const ALIGN = 16;

interface Block {
  start: number;
  size: number;
}

export class WasmHeap {
  readonly #memory: WebAssembly.Memory;
  /** Free blocks sorted by start. */
  #free: Block[] = [];
  /** Live allocations: start → size. */
  readonly #live = new Map<number, number>();
  #end: number;

  constructor(memory: WebAssembly.Memory, base: number) {
    this.#memory = memory;
    this.#end = alignUp(Math.max(base, ALIGN));
  }

  /** Bytes of linear memory currently reserved by the WebAssembly instance. */
  get memoryBytes(): number {
    return this.#memory.buffer.byteLength;
  }

  /** Bytes currently handed out. */
  get liveBytes(): number {
    let n = 0;
    for (const s of this.#live.values()) n += s;
    return n;
  }

  /** Number of live allocations (for leak tests). */
  get liveCount(): number {
    return this.#live.size;
  }

  /** Allocates `bytes` (16-byte aligned, never 0 for a 0-byte request). */
  alloc(bytes: number): number {
    const size = alignUp(Math.max(bytes, ALIGN));
    for (let i = 0; i < this.#free.length; i++) {
      const b = this.#free[i];
      if (b.size >= size) {
        const start = b.start;
        if (b.size === size) this.#free.splice(i, 1);
        else {
          b.start += size;
          b.size -= size;
        }
        this.#live.set(start, size);
        return start;
      }
    }
    // Extend the top; take back a free block that touches the top first.
    let start = this.#end;
    const last = this.#free[this.#free.length - 1];
    if (last && last.start + last.size === this.#end) {
      start = last.start;
      this.#free.pop();
    }
    const end = start + size;
    const have = this.#memory.buffer.byteLength;
    if (end > have) {
      const pages = Math.ceil((end - have) / 65536);
      // Grow by at least 1/8 of the current size so repeated growth stays amortised.
      this.#memory.grow(Math.max(pages, Math.ceil(have / 65536 / 8)));
    }
    this.#end = end;
    this.#live.set(start, size);
    return start;
  }

  /** Returns a block to the heap; freeing 0 is a no-op. */
  free(ptr: number): void {
    if (ptr === 0) return;
    const size = this.#live.get(ptr);
    if (size === undefined) throw new Error(`WasmHeap.free: ${ptr} is not a live allocation`);
    this.#live.delete(ptr);
    // Insert sorted and coalesce with neighbours.
    let lo = 0, hi = this.#free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#free[mid].start < ptr) lo = mid + 1;
      else hi = mid;
    }
    const block: Block = { start: ptr, size };
    this.#free.splice(lo, 0, block);
    const next = this.#free[lo + 1];
    if (next && block.start + block.size === next.start) {
      block.size += next.size;
      this.#free.splice(lo + 1, 1);
    }
    const prev = this.#free[lo - 1];
    if (prev && prev.start + prev.size === block.start) {
      prev.size += block.size;
      this.#free.splice(lo, 1);
    }
  }

  /** A Float32Array view; re-create after any alloc (growth detaches old views). */
  f32(ptr: number, length: number): Float32Array {
    return new Float32Array(this.#memory.buffer, ptr, length);
  }

  /** An Int32Array view; re-create after any alloc. */
  i32(ptr: number, length: number): Int32Array {
    return new Int32Array(this.#memory.buffer, ptr, length);
  }

  /** Allocates and copies a typed array in; returns the pointer. */
  upload(data: Float32Array | Int32Array): number {
    const ptr = this.alloc(data.byteLength);
    if (data instanceof Float32Array) this.f32(ptr, data.length).set(data);
    else this.i32(ptr, data.length).set(data);
    return ptr;
  }
}

function alignUp(n: number): number {
  return Math.ceil(n / ALIGN) * ALIGN;
}
