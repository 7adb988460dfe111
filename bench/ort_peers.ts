/**
 * ONNX Runtime peers for the bench report: the engine model exported to ONNX (`@scratchnet/onnx`,
 * so the same weights) and run by onnxruntime-node (the native build in its npm package) and by
 * onnxruntime-web (wasm, SIMD) at 1 and 2 threads. onnxruntime-node sessions run in this process
 * (`intraOpNumThreads`); each ORT-web thread count runs in its own worker (`ort_web_worker.ts`).
 */
import * as ortNode from "onnxruntime-node";
import type { Model, Tensor } from "../packages/engine/mod.ts";
import { exportOnnx } from "../packages/onnx/mod.ts";
import { sampleForAsync } from "./timing.ts";

/** The ONNX Runtime columns of the report. */
export const ORT_PEERS = ["ortWeb1", "ortWeb2", "ortNode1", "ortNode2"] as const;
/** One ONNX Runtime column. */
export type OrtPeerName = typeof ORT_PEERS[number];

/** Column titles. */
export const ORT_PEER_LABELS: Readonly<Record<OrtPeerName, string>> = {
  ortWeb1: "ORT-web wasm",
  ortWeb2: "ORT-web wasm 2 thr",
  ortNode1: "onnxruntime-node",
  ortNode2: "onnxruntime-node 2 thr",
};

/** Threads of each column. */
export const ORT_PEER_THREADS: Readonly<Record<OrtPeerName, number>> = {
  ortWeb1: 1,
  ortWeb2: 2,
  ortNode1: 1,
  ortNode2: 2,
};

/** One ONNX Runtime peer holding one session of the model. */
export interface OrtPeer {
  name: OrtPeerName;
  /** The first output on `x`. */
  predict(x: Tensor): Promise<Float32Array>;
  /** One timed round on `x`: ms per call. */
  sample(x: Tensor, budgetMs: number, minCalls: number, maxCalls?: number): Promise<number[]>;
  /**
   * Gives up on the peer after a call passed its time box: ORT-web's worker is terminated (a
   * stuck call would keep spinning on a core), onnxruntime-node's session is left alone (a
   * native call cannot be stopped, and releasing it under a running call is unsafe).
   */
  abandon(): Promise<void>;
  dispose(): Promise<void>;
  /** ORT-web: bytes of its wasm memory after the last call (0 for onnxruntime-node). */
  readonly memoryBytes: number;
}

/**
 * Wasm memory a multi-threaded ORT-web session reserves up front (`ort_web_worker.ts`: growing
 * it while its threads run crashes the thread in Deno and hangs the call). Larger than what
 * the report's largest model needs (InceptionV3 299×299 at batch 8); pages stay uncommitted
 * until touched.
 */
export const ORT_WEB_RESERVE_BYTES = 2 ** 31;

/** Options of {@link ortPeers}. */
export interface OrtPeersOptions {
  /** Wasm memory the multi-threaded ORT-web sessions start with (default ORT_WEB_RESERVE_BYTES). */
  webReserveBytes?: number;
}

function hostInput(x: Tensor): { data: Float32Array | Int32Array; shape: number[] } {
  return { data: x.data as Float32Array | Int32Array, shape: [...x.shape] };
}

async function nodePeer(bytes: Uint8Array, name: OrtPeerName): Promise<OrtPeer> {
  const session = await ortNode.InferenceSession.create(bytes, {
    intraOpNumThreads: ORT_PEER_THREADS[name],
    interOpNumThreads: 1,
    executionMode: "sequential",
    graphOptimizationLevel: "all",
  });
  const feeds = (x: Tensor) => {
    const { data, shape } = hostInput(x);
    const t = data instanceof Int32Array
      ? new ortNode.Tensor("int32", data, shape)
      : new ortNode.Tensor("float32", data, shape);
    return { [session.inputNames[0]]: t };
  };
  let abandoned = false;
  return {
    name,
    async predict(x) {
      const y = await session.run(feeds(x));
      return y[session.outputNames[0]].data as Float32Array;
    },
    sample(x, budgetMs, minCalls, maxCalls) {
      const input = feeds(x);
      return sampleForAsync(() => session.run(input), budgetMs, minCalls, maxCalls);
    },
    abandon() {
      abandoned = true;
      return Promise.resolve();
    },
    dispose: () => abandoned ? Promise.resolve() : session.release(),
    memoryBytes: 0,
  };
}

async function webPeer(
  bytes: Uint8Array,
  name: OrtPeerName,
  reserveBytes: number,
): Promise<OrtPeer> {
  const worker = new Worker(new URL("./ort_web_worker.ts", import.meta.url), { type: "module" });
  let memoryBytes = 0;
  // One request at a time: each message gets the worker's next reply.
  const ask = <T>(message: Record<string, unknown>, want: string): Promise<T> =>
    new Promise((resolve, reject) => {
      worker.onmessage = (e: MessageEvent) => {
        if (e.data.memoryBytes !== undefined) memoryBytes = e.data.memoryBytes;
        if (e.data.type === want) resolve(e.data as T);
        else reject(new Error(`${ORT_PEER_LABELS[name]}: ${e.data.message ?? e.data.type}`));
      };
      worker.onerror = (e) => {
        e.preventDefault();
        reject(new Error(`${ORT_PEER_LABELS[name]}: ${e.message}`));
      };
      worker.postMessage(message);
    });
  const threads = ORT_PEER_THREADS[name];
  try {
    await ask(
      { type: "load", model: bytes, threads, reserveBytes: threads > 1 ? reserveBytes : 0 },
      "loaded",
    );
  } catch (e) {
    worker.terminate();
    throw e;
  }
  const end = () => {
    worker.terminate();
    return Promise.resolve();
  };
  return {
    name,
    async predict(x) {
      const r = await ask<{ data: Float32Array }>({ type: "predict", x: hostInput(x) }, "output");
      return r.data;
    },
    async sample(x, budgetMs, minCalls, maxCalls) {
      const r = await ask<{ samples: number[] }>(
        { type: "sample", x: hostInput(x), budgetMs, minCalls, maxCalls },
        "samples",
      );
      return r.samples;
    },
    abandon: end,
    dispose: end,
    get memoryBytes() {
      return memoryBytes;
    },
  };
}

/** Opens one session of the ONNX model `bytes` (from `exportOnnx`) as the column `name`. */
export function openOrtPeer(
  bytes: Uint8Array,
  name: OrtPeerName,
  { webReserveBytes = ORT_WEB_RESERVE_BYTES }: OrtPeersOptions = {},
): Promise<OrtPeer> {
  return name.startsWith("ortNode") ? nodePeer(bytes, name) : webPeer(bytes, name, webReserveBytes);
}

/** Exports `model` to ONNX and opens one session per peer in `names`. */
export async function ortPeers(
  model: Model,
  names: readonly OrtPeerName[] = ORT_PEERS,
  options: OrtPeersOptions = {},
): Promise<OrtPeer[]> {
  const bytes = exportOnnx(model);
  const peers: OrtPeer[] = [];
  try {
    for (const name of names) peers.push(await openOrtPeer(bytes, name, options));
  } catch (e) {
    for (const p of peers) await p.dispose();
    throw e;
  }
  return peers;
}
