/**
 * A worker holding one onnxruntime-web (wasm) session, for the bench's ORT-web columns. ORT-web
 * sizes its wasm thread pool once per module instance (`env.wasm.numThreads`), so each thread
 * count gets its own worker; the worker times its own calls, so messaging is not counted.
 *
 * Multi-threaded ORT-web in Deno must not grow its wasm memory while its threads run: the
 * Emscripten pthread (a `node:worker_threads` worker here) then intermittently traps with
 * "memory access out of bounds" on the newly grown pages, its worker exits, and the thread that
 * called `run` waits for it forever, spinning (issue 18: `bench:report` stalled at BiLSTM 1×64,
 * batch 64, the first call that needed more than ORT-web's initial 16 MB). So the load message
 * can reserve the memory up front (`reserveBytes`): the shared `WebAssembly.Memory` ORT-web
 * creates starts that large and grows only past it.
 *
 * Messages in: `{ type: "load", model: Uint8Array, threads, reserveBytes? }`,
 * `{ type: "predict", x }`, `{ type: "sample", x, budgetMs, minCalls, maxCalls }`; out:
 * `{ type: "loaded", memoryBytes }`, `{ type: "output", data, memoryBytes }`,
 * `{ type: "samples", samples, memoryBytes }`, `{ type: "error", message }` (`memoryBytes`: the
 * size of ORT-web's wasm memory after the call).
 */
/// <reference lib="deno.worker" />
import * as ort from "onnxruntime-web";

/** An input batch as the main thread sends it. */
interface HostInput {
  data: Float32Array | Int32Array;
  shape: number[];
}

const PAGE = 65536;
/** Pages the next shared wasm memory starts with at least (from the load message). */
let reservePages = 0;
/** ORT-web's wasm memory, once created. */
let memory: WebAssembly.Memory | undefined;
// ORT-web creates its memory when the session's module is instantiated (on load, below), with
// `new WebAssembly.Memory({ initial: 256, maximum: 65536, shared: true })`; an imported memory
// may start larger than the module's minimum.
WebAssembly.Memory = new Proxy(WebAssembly.Memory, {
  construct(target, [descriptor]: [WebAssembly.MemoryDescriptor]) {
    const shared = descriptor.shared && (descriptor.maximum ?? 1) > 0;
    const initial = shared
      ? Math.max(descriptor.initial, Math.min(reservePages, descriptor.maximum ?? reservePages))
      : descriptor.initial;
    const m = new target({ ...descriptor, initial });
    if (shared) memory = m;
    return m;
  },
});

let session: ort.InferenceSession | undefined;

function feeds(x: HostInput): Record<string, ort.Tensor> {
  const t = x.data instanceof Int32Array
    ? new ort.Tensor("int32", x.data, x.shape)
    : new ort.Tensor("float32", x.data, x.shape);
  return { [session!.inputNames[0]]: t };
}

const memoryBytes = () => memory?.buffer.byteLength ?? 0;

self.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  try {
    if (m.type === "load") {
      reservePages = Math.ceil((m.reserveBytes ?? 0) / PAGE);
      ort.env.wasm.numThreads = m.threads;
      session = await ort.InferenceSession.create(m.model, { executionProviders: ["wasm"] });
      self.postMessage({ type: "loaded", memoryBytes: memoryBytes() });
    } else if (m.type === "predict") {
      const y = await session!.run(feeds(m.x));
      self.postMessage({
        type: "output",
        data: y[session!.outputNames[0]].data,
        memoryBytes: memoryBytes(),
      });
    } else if (m.type === "sample") {
      const input = feeds(m.x);
      const samples: number[] = [];
      const start = performance.now();
      while (
        samples.length < (m.maxCalls ?? 1e6) &&
        (samples.length < m.minCalls || performance.now() - start < m.budgetMs)
      ) {
        const t = performance.now();
        await session!.run(input);
        samples.push(performance.now() - t);
      }
      self.postMessage({ type: "samples", samples, memoryBytes: memoryBytes() });
    } else if (m.type === "close") {
      await session?.release();
      self.close();
    }
  } catch (err) {
    self.postMessage({ type: "error", message: String((err as Error)?.message ?? err) });
  }
};
