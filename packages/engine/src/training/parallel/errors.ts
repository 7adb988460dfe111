/** Errors of data-parallel training. */
import { EngineError } from "../../errors.ts";

/**
 * A training worker could not start (no Web Workers, its module failed to load) or failed on its
 * slice of a batch. `workerErrorName` is the class of the error inside the worker (e.g.
 * `TrainingDataError`), when it threw one.
 */
export class TrainingWorkerError extends EngineError {
  constructor(message: string, readonly workerErrorName = "") {
    super(`training worker: ${message}`);
  }
}
