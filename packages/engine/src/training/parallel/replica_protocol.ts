/**
 * Messages and the shared control block between `Model.predict` and its predict replicas: worker
 * threads that each hold a copy of the model (built from `Model.toSpec()`) and run whole forward
 * passes on a share of a batch, so a batch is split once per call instead of once per layer.
 *
 * `predict` is synchronous, so the calling thread cannot receive messages while it waits: it posts
 * a job (the inputs in shared memory), runs its own share, then blocks in `Atomics.wait` on the
 * replica's control block until the replica has written its outputs into shared memory too. The
 * control block also carries the replica's life cycle (as the kernel threads' do): a replica idle
 * for `idleMs` ends itself, so an idle model never keeps a process alive, and the next call
 * builds it again.
 */
import type { ModelBuildOptions } from "../../model.ts";
import type { WeightTensor } from "../../layer.ts";
import type { ModelSpec } from "../../spec.ts";

/** Int32 slots of a replica's control block. */
export const CONTROL_INTS = 8;
/** Slot: the replica's life-cycle state (one of the states below). */
export const STATE = 0;
/** Slot: sequence number of the last job posted. */
export const SEQ = 1;
/** Slot: sequence number of the last job finished. */
export const DONE = 2;
/** Slot: 0 when the last job succeeded, else 1 (its error message is in the message block). */
export const STATUS = 3;
/** Slot: bytes of the UTF-8 error message. */
export const MESSAGE_BYTES = 4;

/** The replica is building its model. */
export const STARTING = 0;
/** Waiting for a job. */
export const IDLE = 1;
/** Claimed by the caller for a job. */
export const BUSY = 2;
/** Ended (idle too long, or closed): the next job needs a new replica. */
export const EXITED = 3;
/** Its model could not be built (the message block says why). */
export const FAILED = 4;

/** Bytes of the shared block an error message is written into (longer ones are cut). */
export const MESSAGE_CAPACITY = 4096;

/** A float32 or int32 tensor in shared memory. */
export interface SharedTensor {
  buffer: SharedArrayBuffer;
  /** Byte offset of the first element. */
  byteOffset: number;
  dtype: "float32" | "int32";
  shape: number[];
}

/** Builds the replica (the first message a replica worker gets). */
export interface ReplicaInit {
  type: "replica";
  spec: ModelSpec;
  options: ModelBuildOptions;
  control: SharedArrayBuffer;
  message: SharedArrayBuffer;
  idleMs: number;
}

/** Replaces the replica's weights with the model's current ones (by layer path). */
export interface ReplicaWeights {
  type: "replica-weights";
  seq: number;
  weights: Record<string, WeightTensor[]>;
}

/** Runs the replica's share of one `predict` call. */
export interface ReplicaPredict {
  type: "replica-predict";
  seq: number;
  inputs: SharedTensor[];
  /** Layer names whose outputs to return (`PredictManyOptions.outputs`), else the outputs. */
  outputs?: string[];
  batchSize: number;
  /** Where the outputs go, one after another, as float32. */
  out: SharedArrayBuffer;
  /** Floats the caller expects of each output (a mismatch is an error, never a silent copy). */
  outFloats: number[];
}

/** Messages to a replica worker. */
export type ReplicaRequest = ReplicaInit | ReplicaWeights | ReplicaPredict;

/** Whether a message to the shared worker entry is a replica's. */
export function isReplicaRequest(msg: { type: string }): msg is ReplicaRequest {
  return msg.type === "replica" || msg.type === "replica-weights" ||
    msg.type === "replica-predict";
}

/** Writes `text` (cut to fit) into a message block and its length into the control block. */
export function writeMessage(control: Int32Array, message: Uint8Array, text: string): void {
  const { written } = new TextEncoder().encodeInto(text, message);
  Atomics.store(control, MESSAGE_BYTES, written);
}

/** The error message a replica wrote. */
export function readMessage(control: Int32Array, message: Uint8Array): string {
  const n = Math.min(Atomics.load(control, MESSAGE_BYTES), message.length);
  // TextDecoder refuses views of shared memory: decode a copy.
  return new TextDecoder().decode(message.slice(0, n));
}
