/**
 * The replica side of predict replicas (see `replica_protocol.ts`): runs inside the shared worker
 * entry (`worker.ts`), builds its own model from the spec in its own kernel instance, then blocks
 * on its control block and answers each job through shared memory until it ends.
 *
 * @module
 */
import { Model } from "../../model.ts";
import { Tensor } from "../../tensor.ts";
import { SPIN_MICROS } from "../../wasm/threads.ts";
import {
  CALLER_BLOCKED,
  CONTROL_INTS,
  DONE,
  EXITED,
  FAILED,
  IDLE,
  JOB_BYTES,
  JOB_MICROS,
  type JobInput,
  type ReplicaInit,
  type ReplicaJob,
  SEQ,
  STATE,
  STATUS,
  TAKEN,
  writeMessage,
} from "./replica_protocol.ts";

interface Replica {
  model: Model;
  init: ReplicaInit;
  control: Int32Array;
  message: Uint8Array;
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Builds the replica and serves its jobs (returns when the replica ends). */
export function handleReplicaMessage(init: ReplicaInit): void {
  const control = new Int32Array(init.control, 0, CONTROL_INTS);
  const message = new Uint8Array(init.message);
  let replica: Replica;
  try {
    // The spec carries every weight: nothing is initialized at random here.
    const { initialize: _, ...options } = init.options;
    replica = { model: new Model(init.spec, options), init, control, message };
  } catch (e) {
    writeMessage(control, message, describe(e));
    Atomics.store(control, STATE, FAILED);
    Atomics.notify(control, STATE);
    return;
  }
  serve(replica);
}

/** Waits for jobs until the pool closes the replica or it stays idle for `idleMs`. */
function serve(r: Replica): void {
  const { control } = r;
  // Read before announcing IDLE: a job posted right after is then a change of SEQ, not missed.
  let seen = Atomics.load(control, SEQ);
  Atomics.store(control, STATE, IDLE);
  Atomics.notify(control, STATE);
  let spin = 0;
  for (;;) {
    // The caller's next call usually comes soon after the last (a stream of predicts).
    const spinUntil = performance.now() + spin / 1000;
    while (Atomics.load(control, SEQ) === seen && performance.now() < spinUntil) { /* spin */ }
    const woke = Atomics.load(control, SEQ) !== seen
      ? "ok"
      : Atomics.wait(control, SEQ, seen, r.init.idleMs);
    if (Atomics.load(control, STATE) === EXITED) break; // closed by the pool
    if (woke === "timed-out") {
      if (Atomics.compareExchange(control, STATE, IDLE, EXITED) === IDLE) {
        Atomics.notify(control, STATE);
        break;
      }
      continue; // claimed for a job just now: its sequence number is on the way
    }
    seen = Atomics.load(control, SEQ);
    Atomics.store(control, TAKEN, seen);
    let status = 0;
    const started = performance.now();
    try {
      run(r);
    } catch (e) {
      status = 1;
      writeMessage(control, r.message, describe(e));
    }
    control[JOB_MICROS] = Math.min(0x7fffffff, Math.round((performance.now() - started) * 1000));
    control[STATUS] = status;
    Atomics.store(control, STATE, IDLE);
    spin = Atomics.load(control, CALLER_BLOCKED) ? 0 : SPIN_MICROS;
    Atomics.store(control, DONE, seen);
    Atomics.notify(control, DONE);
  }
  r.model.dispose();
  (globalThis as unknown as { close(): void }).close();
}

function view(buffer: SharedArrayBuffer, t: JobInput): Tensor {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const data = t.dtype === "int32"
    ? new Int32Array(buffer, t.byteOffset, n)
    : new Float32Array(buffer, t.byteOffset, n);
  return new Tensor(data, t.shape);
}

/** Runs the job in the shared buffers and writes its outputs. */
function run(r: Replica): void {
  const { job: jobBuffer, inputs, out } = r.init;
  // TextDecoder refuses views of shared memory: decode a copy.
  const text = new TextDecoder().decode(
    new Uint8Array(jobBuffer, 0, Atomics.load(r.control, JOB_BYTES)).slice(),
  );
  const job = JSON.parse(text) as ReplicaJob;
  const ys = r.model.predictMany(job.inputs.map((t) => view(inputs, t)), {
    batchSize: job.batchSize,
    outputs: job.outputs,
  });
  const dst = new Float32Array(out);
  let at = 0;
  ys.forEach((y, k) => {
    if (y.data.length !== job.outFloats[k]) {
      throw new Error(
        `output ${k}: ${y.data.length} values of shape [${y.shape}], the caller expected ` +
          `${job.outFloats[k]}`,
      );
    }
    dst.set(y.data, at);
    at += y.data.length;
  });
}
