/** Base class of every error the engine throws on bad input. */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A layer class (or a layer option) the engine does not run. */
export class UnsupportedLayerError extends EngineError {
  constructor(
    readonly className: string,
    readonly layerName: string,
    detail = "",
  ) {
    super(
      `layer "${layerName}": class ${className} is not supported${detail ? ` (${detail})` : ""}`,
    );
  }
}

/** A config value the engine cannot use. */
export class LayerConfigError extends EngineError {
  constructor(readonly layerName: string, readonly field: string, message: string) {
    super(`layer "${layerName}": ${field}: ${message}`);
  }
}

/** Weights missing, extra, or of another shape than the config implies. */
export class WeightShapeError extends EngineError {
  constructor(
    readonly layerName: string,
    readonly weightName: string,
    readonly expected: readonly number[] | string,
    readonly received: readonly number[] | string,
  ) {
    super(
      `layer "${layerName}": weight ${weightName}: expected ${fmt(expected)}, received ${
        fmt(received)
      }`,
    );
  }
}

/** An input tensor of the wrong rank, shape, dtype or content. */
export class InputShapeError extends EngineError {
  constructor(
    readonly layerName: string,
    readonly expected: string,
    readonly received: string,
  ) {
    super(`layer "${layerName}": expected input ${expected}, received ${received}`);
  }
}

/** A model config that is not a chain of supported layers. */
export class ModelConfigError extends EngineError {}

function fmt(v: readonly number[] | string): string {
  return typeof v === "string" ? v : `[${v.join(", ")}]`;
}
