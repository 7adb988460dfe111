/**
 * A worker holding one onnxruntime-web (wasm) session, for the bench's ORT-web columns. ORT-web
 * sizes its wasm thread pool once per module instance (`env.wasm.numThreads`), so each thread
 * count gets its own worker; the worker times its own calls, so messaging is not counted.
 *
 * Messages in: `{ type: "load", model: Uint8Array, threads }`, `{ type: "predict", x }`,
 * `{ type: "sample", x, budgetMs, minCalls, maxCalls }`; out: `{ type: "loaded" }`,
 * `{ type: "output", data }`, `{ type: "samples", samples }`, `{ type: "error", message }`.
 */
/// <reference lib="deno.worker" />
import * as ort from "onnxruntime-web";

/** An input batch as the main thread sends it. */
interface HostInput {
  data: Float32Array | Int32Array;
  shape: number[];
}

let session: ort.InferenceSession | undefined;

function feeds(x: HostInput): Record<string, ort.Tensor> {
  const t = x.data instanceof Int32Array
    ? new ort.Tensor("int32", x.data, x.shape)
    : new ort.Tensor("float32", x.data, x.shape);
  return { [session!.inputNames[0]]: t };
}

self.onmessage = async (e: MessageEvent) => {
  const m = e.data;
  try {
    if (m.type === "load") {
      ort.env.wasm.numThreads = m.threads;
      session = await ort.InferenceSession.create(m.model, { executionProviders: ["wasm"] });
      self.postMessage({ type: "loaded" });
    } else if (m.type === "predict") {
      const y = await session!.run(feeds(m.x));
      self.postMessage({ type: "output", data: y[session!.outputNames[0]].data });
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
      self.postMessage({ type: "samples", samples });
    } else if (m.type === "close") {
      await session?.release();
      self.close();
    }
  } catch (err) {
    self.postMessage({ type: "error", message: String((err as Error)?.message ?? err) });
  }
};
