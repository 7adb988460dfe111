/** Typed errors of the prediction service; each becomes one JSON error response. */

/** What went wrong, as reported in `error.kind` (and counted in `serving_errors_total`). */
export type ErrorKind =
  | "invalid_json"
  | "invalid_body"
  | "shape"
  | "dtype"
  | "non_finite"
  | "too_many_instances"
  | "payload_too_large"
  | "unsupported_media_type"
  | "not_found"
  | "method_not_allowed"
  | "queue_full"
  | "deadline_exceeded"
  | "unavailable"
  | "internal";

/** Body of every error response: `{ "error": { kind, field, message } }`. */
export interface ErrorBody {
  error: { kind: ErrorKind; field: string | null; message: string };
}

/**
 * A request the service refuses (4xx) or cannot answer (5xx). `field` names the part of the
 * request at fault (`instances[2][0]`, `body`, `path`) or is `null`.
 */
export class ServingError extends Error {
  constructor(
    readonly status: number,
    readonly kind: ErrorKind,
    readonly field: string | null,
    message: string,
    /** Extra response headers (`Retry-After`, `Allow`). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ServingError";
  }

  /** The JSON body sent to the client. */
  toBody(): ErrorBody {
    return {
      error: { kind: this.kind, field: this.field, message: this.message },
    };
  }
}

/** A configuration value out of range (thrown by `createHandler`, never sent to a client). */
export class ServingConfigError extends Error {
  constructor(
    readonly option: string,
    readonly expected: string,
    readonly received: unknown,
  ) {
    super(`${option}: expected ${expected}, received ${String(received)}`);
    this.name = "ServingConfigError";
  }
}
