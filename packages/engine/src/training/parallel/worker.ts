/**
 * Entry of a gradient worker (a module Web Worker; Deno or browser). It builds its own replica of
 * the model and training graph in its own kernel instance from a {@link WorkerInit}, then answers
 * each {@link WorkerStep} with the gradient sums of its batch slice. See `protocol.ts`. The same
 * entry serves predict replicas (`replica_worker.ts`), so bundles ship one worker.
 *
 * @module
 */
import { Model } from "../../model.ts";
import { Tensor } from "../../tensor.ts";
import { getRuntime } from "../../wasm/kernels.ts";
import { paramOwners } from "../../registry.ts";
import { TrainingGraph } from "../graph.ts";
import { Loss } from "../losses.ts";
import { TrainingWorkerError } from "./errors.ts";
import {
  packGradients,
  packState,
  paramInfo,
  unpackWeights,
  type WorkerInit,
  type WorkerReply,
  type WorkerRequest,
  type WorkerStep,
} from "./protocol.ts";
import { isReplicaRequest, type ReplicaInit } from "./replica_protocol.ts";
import { handleReplicaMessage } from "./replica_worker.ts";

/** The parts of a worker's global scope used here (typed without the worker lib). */
interface WorkerScope {
  onmessage: ((event: MessageEvent<WorkerRequest | ReplicaInit>) => void) | null;
  postMessage(message: WorkerReply, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

let replica: { model: Model; graph: TrainingGraph } | undefined;

function init(msg: WorkerInit): void {
  const { heap, kernels } = getRuntime();
  const model = new Model(msg.spec);
  if (model.graph.needsInputShape) {
    // The config had no input shape: build for the trainer's input shape (as its first input did).
    const shape = msg.inputShape.map((d) => d ?? 1);
    model.predict(new Tensor(new Float32Array(0), [0, ...shape]));
  }
  const names = model.layers.map((l) => model.layerPath(l));
  if (names.join("\n") !== msg.layerNames.join("\n")) {
    throw new TrainingWorkerError(
      `replica layers [${names}] differ from the model's [${msg.layerNames}]`,
    );
  }
  const graph = new TrainingGraph(
    model.graph,
    msg.layerTrainable,
    msg.losses.map((l) => Loss.from(l)),
    msg.metrics,
    kernels,
    heap,
    msg.lossWeights,
  );
  const got = JSON.stringify(paramInfo(graph.params)), want = JSON.stringify(msg.params);
  if (got !== want) {
    graph.dispose();
    model.dispose();
    throw new TrainingWorkerError(`replica parameters ${got} differ from the model's ${want}`);
  }
  replica = { model, graph };
}

function step(msg: WorkerStep): WorkerReply {
  if (!replica) throw new TrainingWorkerError("step before init");
  const { heap } = getRuntime();
  const { model, graph } = replica;
  unpackWeights(graph.params, heap, msg.weights);
  // Host copies and derived device data (BatchNormalization's scale/shift) follow the new values.
  model.layers.forEach((layer, i) => {
    const impl = graph.impls[i];
    for (const owner of paramOwners(layer, impl)) owner.weightsUpdated();
    impl.afterUpdate?.(layer);
  });
  const res = graph.computeGradients({
    xs: msg.xs.map((x, i) => new Tensor(x, msg.xShapes[i])),
    targets: msg.targets,
    sampleWeight: msg.sampleWeight,
    sampleOffset: msg.sampleOffset,
  }, msg.seed);
  return {
    type: "result",
    id: msg.id,
    grads: packGradients(graph.params, heap),
    state: packState(graph.params, heap),
    ...res,
  };
}

scope.onmessage = (event) => {
  const msg = event.data;
  // The same entry serves predict replicas (replica_worker.ts), which report through shared memory.
  if (isReplicaRequest(msg)) return handleReplicaMessage(msg);
  const id = msg.type === "step" ? msg.id : -1;
  try {
    if (msg.type === "init") {
      init(msg);
      scope.postMessage({ type: "ready" });
    } else {
      const reply = step(msg);
      const transfer = reply.type === "result" ? [reply.grads.buffer, reply.state.buffer] : [];
      scope.postMessage(reply, transfer as ArrayBuffer[]);
    }
  } catch (e) {
    const err = e instanceof Error ? e : new Error(String(e));
    scope.postMessage({ type: "error", id, name: err.name, message: err.message });
  }
};
