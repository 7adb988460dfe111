/**
 * The one executor of a model's {@link Graph}: plans which nodes run and when each tensor can be
 * freed, then runs the forward pass for inference (freeing every tensor after its last reader,
 * so peak memory follows the largest live set, not the sum of all activations) or for training
 * (keeping every tensor for the backward pass, which `training/graph.ts` walks in reverse).
 */
import type { Graph, GraphNode } from "./graph.ts";
import { type DeviceTensor, sizeOf } from "./tensor.ts";
import type { WasmHeap } from "./wasm/heap.ts";

/** The nodes that must run to produce some tensors, in order, with each tensor's last reader. */
export interface GraphPlan {
  /** The nodes to run (the graph's input nodes excluded), topologically ordered. */
  readonly steps: readonly GraphNode[];
  /** Per node id: the index in `steps` of the last step reading it (-1: none). */
  readonly lastUse: Int32Array;
  /** The node ids the plan produces (kept until the caller takes them). */
  readonly wanted: readonly number[];
  /**
   * Per node id: 1 when a step or the caller reads it (a call's further output nobody reads is
   * dropped as soon as the call returns it).
   */
  readonly read: Uint8Array;
}

/** Plans the steps that produce `wanted` (node ids) from the graph's inputs. */
export function planGraph(graph: Graph, wanted: readonly number[]): GraphPlan {
  const needed = new Uint8Array(graph.nodes.length);
  const stack = [...wanted];
  while (stack.length) {
    const id = stack.pop()!;
    if (needed[id]) continue;
    needed[id] = 1;
    for (const i of graph.nodes[id].inputs) stack.push(i);
  }
  const steps = graph.nodes.filter((n) => needed[n.id] && n.inputIndex < 0);
  return planOfSteps(graph, steps, wanted);
}

/**
 * The plan running `steps` (topologically ordered) for `wanted`, with each tensor's last reader:
 * also how a rewritten plan (inference-time fusion, `fusion.ts`) gets its `lastUse`.
 */
export function planOfSteps(
  graph: Graph,
  steps: readonly GraphNode[],
  wanted: readonly number[],
): GraphPlan {
  const lastUse = new Int32Array(graph.nodes.length).fill(-1);
  const read = new Uint8Array(graph.nodes.length);
  steps.forEach((node, s) => {
    read[node.id] = 1;
    for (const i of node.inputs) lastUse[i] = s;
  });
  for (const id of wanted) read[id] = 1;
  return { steps: [...steps], lastUse, wanted: [...wanted], read };
}

/**
 * Device tensors (values and masks) of one run, reference-counted by buffer: layers may return
 * their input itself (identity layers, reshapes), so one buffer can back several tensors, and is
 * freed when the last of them is released.
 */
export class TensorStore {
  readonly values: (DeviceTensor | null)[];
  readonly masks: (DeviceTensor | null)[];
  readonly #refs = new Map<number, number>();
  readonly #bytes = new Map<number, number>();
  readonly #heap: WasmHeap;
  #liveBytes = 0;
  /** The most bytes of tensors held at once during the run. */
  peakBytes = 0;

  constructor(size: number, heap: WasmHeap) {
    this.values = new Array(size).fill(null);
    this.masks = new Array(size).fill(null);
    this.#heap = heap;
  }

  #hold(t: DeviceTensor | null): void {
    if (!t) return;
    const n = this.#refs.get(t.ptr) ?? 0;
    this.#refs.set(t.ptr, n + 1);
    if (n === 0) {
      const bytes = sizeOf(t.shape) * 4;
      this.#bytes.set(t.ptr, bytes);
      this.#liveBytes += bytes;
      this.peakBytes = Math.max(this.peakBytes, this.#liveBytes);
    }
  }

  #drop(t: DeviceTensor | null): void {
    if (!t) return;
    const n = (this.#refs.get(t.ptr) ?? 1) - 1;
    if (n > 0) this.#refs.set(t.ptr, n);
    else {
      this.#refs.delete(t.ptr);
      this.#liveBytes -= this.#bytes.get(t.ptr) ?? 0;
      this.#bytes.delete(t.ptr);
      this.#heap.free(t.ptr);
    }
  }

  /** Records node `id`'s output and mask (the store now owns their buffers). */
  set(id: number, value: DeviceTensor, mask: DeviceTensor | null): void {
    this.#hold(value);
    this.#hold(mask);
    this.values[id] = value;
    this.masks[id] = mask;
  }

  /** Whether a buffer currently backs a tensor of the store. */
  holds(ptr: number): boolean {
    return this.#refs.has(ptr);
  }

  /** Forgets node `id`'s tensors, freeing buffers nothing else uses. */
  release(id: number): void {
    this.#drop(this.values[id]);
    this.#drop(this.masks[id]);
    this.values[id] = null;
    this.masks[id] = null;
  }

  /** Frees every buffer still held. */
  releaseAll(): void {
    for (const ptr of this.#refs.keys()) this.#heap.free(ptr);
    this.#refs.clear();
    this.#bytes.clear();
    this.#liveBytes = 0;
    this.values.fill(null);
    this.masks.fill(null);
  }
}

/**
 * How a run calls one node: its inputs and their masks → its output, or every output of a call
 * returning several (`Layer.callOutputs`; the first is the node's own).
 */
export type NodeCall = (
  node: GraphNode,
  xs: DeviceTensor[],
  masks: (DeviceTensor | null)[],
) => DeviceTensor | readonly DeviceTensor[];

/**
 * Runs a plan's forward pass. `inputs` are the graph's input tensors (the store takes them).
 * With `keepAll`, every tensor stays in the store (training: the backward pass reads them);
 * otherwise each is released after its last reader, except the wanted ones.
 */
export function runForward(
  graph: Graph,
  plan: GraphPlan,
  inputs: readonly DeviceTensor[],
  store: TensorStore,
  call: NodeCall,
  keepAll: boolean,
): void {
  graph.inputs.forEach((id, i) => store.set(id, inputs[i], null));
  const keep = new Set(plan.wanted);
  plan.steps.forEach((node, s) => {
    const xs = node.inputs.map((i) => store.values[i]!);
    const masks = node.inputs.map((i) => store.masks[i]);
    // An extra output node's tensor was stored when its call ran (below).
    if (node.outputIndex === 0) {
      const out = call(node, xs, masks);
      const ys = Array.isArray(out) ? out as readonly DeviceTensor[] : [out as DeviceTensor];
      if (ys.length !== 1 + node.extraOutputs.length) {
        throw new Error(
          `layer "${node.layer.name}" returned ${ys.length} tensors, expected ` +
            `${1 + node.extraOutputs.length}`,
        );
      }
      const mask = node.layer.computeMasks(xs, masks);
      store.set(node.id, ys[0], mask);
      node.extraOutputs.forEach((id, k) => {
        store.set(id, ys[k + 1], null);
        if (!plan.read[id]) store.release(id);
      });
    }
    if (keepAll) return;
    for (const i of new Set(node.inputs)) {
      if (plan.lastUse[i] === s && !keep.has(i)) store.release(i);
    }
  });
  if (!keepAll) {
    // Inputs no step reads (a model output that is also its input, or unused inputs).
    for (const id of graph.inputs) if (plan.lastUse[id] < 0 && !keep.has(id)) store.release(id);
  }
}
