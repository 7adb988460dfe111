/**
 * Error classes of the tokenizer package. Every failure of `TextVectorization`
 * is a {@linkcode TokenizerError}; the subclasses say which kind of mistake it was.
 *
 * @module
 */

/** Base class of every error thrown by `@scratchnet/tokenizer`. */
export class TokenizerError extends Error {
  /** Creates an error with a message that names what was wrong. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * Formats a received value for an error message without dumping huge data (long strings and
 * lists are cut, nesting beyond 3 levels is elided, so hostile configs cannot blow the stack).
 */
export function describeValue(value: unknown, depth = 0): string {
  if (typeof value === "string") {
    const text = JSON.stringify(value.length > 200 ? `${value.slice(0, 200)}…` : value);
    return text;
  }
  if (typeof value === "function") return `function ${value.name || "(anonymous)"}`;
  if (Array.isArray(value)) {
    if (depth >= 3) return `[…]`;
    const head = value.slice(0, 5).map((v) => describeValue(v, depth + 1)).join(", ");
    return `[${head}${value.length > 5 ? `, … (${value.length} items)` : ""}]`;
  }
  if (value === null || typeof value !== "object") return String(value);
  if (depth >= 3) return "{…}";
  const entries = Object.entries(value).slice(0, 5).map(([k, v]) =>
    `${JSON.stringify(k)}: ${describeValue(v, depth + 1)}`
  );
  const more = Object.keys(value).length > 5 ? ", …" : "";
  const text = `{${entries.join(", ")}${more}}`;
  return text.length > 240 ? `${text.slice(0, 237)}...` : text;
}

/** A constructor option or Keras config field has a bad value or an unknown name. */
export class TokenizerConfigError extends TokenizerError {
  /** The option or config field at fault, e.g. `"output_mode"`. */
  readonly field: string;
  /** What was expected, in words. */
  readonly expected: string;
  /** The offending value, as passed. */
  readonly received: unknown;

  /** Builds the message from the field, the expectation and the received value. */
  constructor(field: string, expected: string, received: unknown, detail?: string) {
    super(
      `TextVectorization: \`${field}\` must be ${expected}; received ${describeValue(received)}` +
        (detail ? ` (${detail})` : ""),
    );
    this.field = field;
    this.expected = expected;
    this.received = received;
  }
}

/** The layer is used in a state that does not allow it (e.g. `call` before `adapt`). */
export class TokenizerStateError extends TokenizerError {}

/** A vocabulary (array, file or idf weights) is malformed or does not fit the layer. */
export class VocabularyError extends TokenizerError {}

/** The texts passed to `adapt` or `call` are not strings. */
export class TokenizerInputError extends TokenizerError {}
