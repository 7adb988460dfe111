/**
 * Resource limits applied while reading untrusted model files. Every size a file declares (zip
 * entry sizes, HDF5 dataset shapes, TF.js manifest shapes and shard counts, JSON nesting) is
 * checked against these before anything of that size is allocated.
 *
 * @module
 */
import { OptionError, ResourceLimitError } from "./errors.ts";

/** Limits of {@link LoadOptions.limits}; each is a maximum. */
export interface ImportLimits {
  /** Bytes read from a path or URL (the model file, or each TF.js shard). Default 2 GiB. */
  maxFileBytes: number;
  /** Total declared size of the `.keras` entries that are extracted. Default 1 GiB. */
  maxUncompressedBytes: number;
  /**
   * Largest declared expansion of compressed data: a deflated zip entry, or an HDF5 dataset
   * stored with a filter, may not declare more than this many times its compressed size (the
   * file size for HDF5). Only applies above 1 MiB. Default 100.
   */
  maxCompressionRatio: number;
  /** Bytes of one weight tensor as float32 (elements × 4). Default 1 GiB. */
  maxTensorBytes: number;
  /** Nesting depth of any JSON document (config, metadata, model.json). Default 100. */
  maxJsonDepth: number;
  /** Shard files listed by a TF.js manifest, over all groups. Default 1000. */
  maxShards: number;
}

/** The defaults (documented in `SECURITY.md`). */
export const DEFAULT_IMPORT_LIMITS: Readonly<ImportLimits> = Object.freeze({
  maxFileBytes: 2 * 1024 ** 3,
  maxUncompressedBytes: 1024 ** 3,
  maxCompressionRatio: 100,
  maxTensorBytes: 1024 ** 3,
  maxJsonDepth: 100,
  maxShards: 1000,
});

/** Declared sizes up to this many bytes are exempt from the compression-ratio check. */
export const RATIO_EXEMPT_BYTES = 1 << 20;

/** Merges user limits over the defaults, refusing values that are not positive numbers. */
export function resolveLimits(partial: unknown): ImportLimits {
  if (partial === undefined) return { ...DEFAULT_IMPORT_LIMITS };
  if (typeof partial !== "object" || partial === null || Array.isArray(partial)) {
    throw new OptionError("limits", "an object of limits", partial);
  }
  const out: ImportLimits = { ...DEFAULT_IMPORT_LIMITS };
  for (const [key, value] of Object.entries(partial)) {
    if (!(key in DEFAULT_IMPORT_LIMITS)) {
      throw new OptionError(
        `limits.${key}`,
        `one of ${Object.keys(DEFAULT_IMPORT_LIMITS).join(", ")}`,
        key,
      );
    }
    if (value === undefined) continue;
    if (typeof value !== "number" || !(value > 0) || Number.isNaN(value)) {
      throw new OptionError(`limits.${key}`, "a positive number (Infinity for no limit)", value);
    }
    out[key as keyof ImportLimits] = value;
  }
  return out;
}

/**
 * Refuses a declared size over `limit`. `what` names the thing, e.g.
 * `entry "model.weights.h5" uncompressed size`.
 */
export function checkLimit(
  limits: ImportLimits,
  limit: keyof ImportLimits,
  what: string,
  requested: number,
  source: string,
): void {
  if (!(requested <= limits[limit])) {
    throw new ResourceLimitError(limit, what, requested, limits[limit], source);
  }
}

/**
 * Refuses data that declares more than `maxCompressionRatio` times its stored size (declared
 * sizes up to {@link RATIO_EXEMPT_BYTES} are exempt: small JSON compresses well).
 */
export function checkRatio(
  limits: ImportLimits,
  what: string,
  declared: number,
  stored: number,
  source: string,
): void {
  if (declared <= RATIO_EXEMPT_BYTES) return;
  const ratio = declared / Math.max(1, stored);
  if (!(ratio <= limits.maxCompressionRatio)) {
    throw new ResourceLimitError(
      "maxCompressionRatio",
      `${what} expansion ratio (${declared} declared / ${stored} stored)`,
      Math.round(ratio),
      limits.maxCompressionRatio,
      source,
    );
  }
}

/**
 * Refuses a parsed JSON value nested deeper than `maxJsonDepth`, walking it without recursion
 * (later code walks configs recursively, and a deep document would overflow its stack).
 */
export function checkJsonDepth(
  value: unknown,
  limits: ImportLimits,
  source: string,
  what: string,
): void {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > limits.maxJsonDepth) {
      throw new ResourceLimitError(
        "maxJsonDepth",
        `${what} nesting depth`,
        depth,
        limits.maxJsonDepth,
        source,
      );
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
    }
  }
}
