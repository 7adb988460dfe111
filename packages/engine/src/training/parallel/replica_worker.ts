/**
 * The replica side of predict replicas (see `replica_protocol.ts`): runs inside the shared worker
 * entry (`worker.ts`), builds its own model from the spec in its own kernel instance, and answers
 * each job through the shared control block.
 *
 * @module
 */
import { Model } from "../../model.ts";
import { Tensor } from "../../tensor.ts";
import {
  BUSY,
  CONTROL_INTS,
  DONE,
  EXITED,
  FAILED,
  IDLE,
  type ReplicaInit,
  type ReplicaPredict,
  type ReplicaRequest,
  STATE,
  STATUS,
  writeMessage,
} from "./replica_protocol.ts";

interface Replica {
  model: Model;
  control: Int32Array;
  message: Uint8Array;
  idleMs: number;
  idleTimer?: ReturnType<typeof setTimeout>;
}

let replica: Replica | undefined;

/** Ends the worker when it stays idle (a claimed replica, BUSY, stays). */
function armIdleTimer(r: Replica): void {
  if (r.idleTimer !== undefined) clearTimeout(r.idleTimer);
  r.idleTimer = setTimeout(() => {
    if (Atomics.compareExchange(r.control, STATE, IDLE, EXITED) === IDLE) {
      Atomics.notify(r.control, STATE);
      r.model.dispose();
      (globalThis as unknown as { close(): void }).close();
    } else if (Atomics.load(r.control, STATE) === BUSY) {
      armIdleTimer(r); // a job was claimed just now: its message is on the way
    }
  }, r.idleMs);
}

function init(msg: ReplicaInit): void {
  const control = new Int32Array(msg.control, 0, CONTROL_INTS);
  const message = new Uint8Array(msg.message);
  try {
    // The spec carries every weight: nothing is initialized at random here.
    const { initialize: _, ...options } = msg.options;
    const model = new Model(msg.spec, options);
    replica = { model, control, message, idleMs: msg.idleMs };
    Atomics.store(control, STATE, IDLE);
    armIdleTimer(replica);
  } catch (e) {
    writeMessage(control, message, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    Atomics.store(control, STATE, FAILED);
  }
  Atomics.notify(control, STATE);
}

function view(t: ReplicaPredict["inputs"][number]): Tensor {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const data = t.dtype === "int32"
    ? new Int32Array(t.buffer, t.byteOffset, n)
    : new Float32Array(t.buffer, t.byteOffset, n);
  return new Tensor(data, t.shape);
}

function predict(r: Replica, msg: ReplicaPredict): void {
  const ys = r.model.predictMany(msg.inputs.map(view), {
    batchSize: msg.batchSize,
    outputs: msg.outputs,
  });
  const out = new Float32Array(msg.out);
  let at = 0;
  ys.forEach((y, k) => {
    if (y.data.length !== msg.outFloats[k]) {
      throw new Error(
        `output ${k}: ${y.data.length} values of shape [${y.shape}], the caller expected ` +
          `${msg.outFloats[k]}`,
      );
    }
    out.set(y.data, at);
    at += y.data.length;
  });
}

/** Runs one job and reports it done (and whether it failed) through the control block. */
function job(r: Replica, msg: ReplicaRequest & { seq: number }): void {
  let status = 0;
  try {
    if (msg.type === "replica-weights") {
      for (const layer of r.model.layers) {
        const w = msg.weights[r.model.layerPath(layer)];
        if (w?.length) layer.setWeights(w);
      }
    } else if (msg.type === "replica-predict") {
      predict(r, msg);
    }
  } catch (e) {
    status = 1;
    writeMessage(r.control, r.message, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
  }
  r.control[STATUS] = status;
  Atomics.store(r.control, STATE, IDLE);
  Atomics.store(r.control, DONE, msg.seq);
  Atomics.notify(r.control, DONE);
  armIdleTimer(r);
}

/** Handles a replica message of the worker entry. */
export function handleReplicaMessage(msg: ReplicaRequest): void {
  if (msg.type === "replica") init(msg);
  else if (replica) job(replica, msg);
}
