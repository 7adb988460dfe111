/** Typed errors of `deno task experiment`: every failure names what was expected and received. */

/** Base class of the experiment CLI's errors. */
export class ExperimentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A command-line argument is missing, unknown or malformed. */
export class UsageError extends ExperimentError {
  /** The flag or positional argument at fault (e.g. `--epochs`, `family`). */
  readonly argument: string;

  constructor(argument: string, expected: string, received: string) {
    super(`${argument}: expected ${expected}, got ${received}`);
    this.argument = argument;
  }
}

/** The output directory already holds results and `--force` was not given. */
export class OutputExistsError extends ExperimentError {
  readonly path: string;

  constructor(path: string) {
    super(
      `${path} already holds results (results.json or report.md); pass --force to overwrite ` +
        `them or choose another --out`,
    );
    this.path = path;
  }
}

/** A variant could not run end to end (training, saving, reloading or a forward pass). */
export class VariantError extends ExperimentError {
  readonly variant: string;
  readonly stage: string;

  constructor(variant: string, stage: string, cause: unknown) {
    const why = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    super(`variant ${variant}, ${stage}: ${why}`);
    this.variant = variant;
    this.stage = stage;
    this.cause = cause;
  }
}
