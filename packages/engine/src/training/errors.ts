/** Errors of the training API (compile / fit / evaluate); all extend {@link EngineError}. */
import { EngineError } from "../errors.ts";

/** A compile/fit option, loss, optimizer, metric, callback or initializer the trainer cannot use. */
export class TrainingConfigError extends EngineError {
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

/** Training data (x, y, sample weights, validation data) of the wrong shape, type or content. */
export class TrainingDataError extends EngineError {
  constructor(readonly field: string, readonly expected: string, readonly received: string) {
    super(`${field}: expected ${expected}, received ${received}`);
  }
}

/** A layer the trainer has no backward pass for (yet). */
export class UntrainableLayerError extends EngineError {
  constructor(readonly className: string, readonly layerName: string, detail = "") {
    super(
      `layer "${layerName}": class ${className} cannot be trained yet${
        detail ? ` (${detail})` : ""
      }`,
    );
  }
}
