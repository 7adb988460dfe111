/**
 * The shared memory between `Model.predict` and its predict replicas: worker threads that each
 * hold a copy of the model (built from `Model.toSpec()`) and run whole forward passes on a share
 * of a batch, so a batch is split once per call instead of once per layer.
 *
 * `predict` is synchronous, so the calling thread cannot receive messages while it waits, and a
 * message to a worker takes a trip through its event loop (about 0.3 ms in Deno, more than a
 * small model's whole share). So only the replica's model travels by message ({@link
 * ReplicaInit}); after that the replica blocks in `Atomics.wait` on its control block, and each
 * job is written into shared memory (its description as JSON, the inputs, then a bumped sequence
 * number) and answered the same way, as the kernel threads' jobs are. As they do, both sides spin
 * `SPIN_MICROS` for the other before blocking (waking a blocked thread costs tens of µs, a sizable
 * part of a small model's share): the replica for the next job after finishing one, the caller for
 * the replica's result once the replica has begun the job. The buffers are growable
 * `SharedArrayBuffer`s, so a larger batch grows them in place. The control block also carries
 * the replica's life cycle: a replica idle for `idleMs` ends itself, so an idle model never keeps
 * a process alive, and the next call builds it again.
 */
import type { ModelBuildOptions } from "../../model.ts";
import type { ModelSpec } from "../../spec.ts";

/** Int32 slots of a replica's control block. */
export const CONTROL_INTS = 9;
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
/** Slot: bytes of the job description. */
export const JOB_BYTES = 5;
/** Slot: sequence number of the job the replica has begun (the caller spins only after it). */
export const TAKEN = 6;
/**
 * Slot: 1 while the caller is blocked waiting for the replica's result; a replica then blocks
 * right after its job instead of spinning for the next (the caller was not running on a core of
 * its own, and may need the replica's).
 */
export const CALLER_BLOCKED = 7;
/**
 * Slot: microseconds the replica spent running its last job (its speed, for the caller's next
 * split: `share_balance.ts`).
 */
export const JOB_MICROS = 8;

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

/** Most bytes the growable job, input and output buffers of a replica may reach. */
export const JOB_CAPACITY = 1 << 20;
export const INPUT_CAPACITY = 1 << 30;
export const OUTPUT_CAPACITY = 1 << 30;

/** Builds the replica: the only message a replica worker gets. */
export interface ReplicaInit {
  type: "replica";
  spec: ModelSpec;
  options: ModelBuildOptions;
  control: SharedArrayBuffer;
  message: SharedArrayBuffer;
  /** The job description (UTF-8 JSON of a {@link ReplicaJob}; its length in JOB_BYTES). */
  job: SharedArrayBuffer;
  /** The inputs of a job, one after another. */
  inputs: SharedArrayBuffer;
  /** The outputs of a job, one after another, as float32. */
  out: SharedArrayBuffer;
  idleMs: number;
}

/** One input of a job: where it lies in the input buffer. */
export interface JobInput {
  byteOffset: number;
  dtype: "float32" | "int32";
  shape: number[];
}

/** The replica's share of one `predict` call. */
export interface ReplicaJob {
  inputs: JobInput[];
  /** Layer names whose outputs to return (`PredictManyOptions.outputs`), else the outputs. */
  outputs?: string[];
  batchSize: number;
  /** Floats the caller expects of each output (a mismatch is an error, never a silent copy). */
  outFloats: number[];
}

/** Whether a message to the shared worker entry is a replica's. */
export function isReplicaRequest(msg: { type: string }): msg is ReplicaInit {
  return msg.type === "replica";
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
