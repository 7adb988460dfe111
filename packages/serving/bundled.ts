/**
 * The handler over model files given as bytes — what a bundle for an edge runtime has (workerd /
 * Cloudflare Workers data modules, files deployed beside a Deno Deploy entry), with no file system.
 */
import { loadModel, type PreprocessingLayer } from "../keras-importer/mod.ts";
import { ServingConfigError } from "./errors.ts";
import {
  createHandler,
  type HandlerOptions,
  type ModelEntry,
  type ServingHandler,
} from "./handler.ts";

/** One model's files as bytes. */
export interface BundledModelFiles {
  /** The model file (`.keras`, `.h5`): anything the importer's `loadModel` reads from bytes. */
  model: ArrayBuffer | Uint8Array;
  /**
   * A separately saved vectorizer: a `.keras` file holding a TextVectorization (Keras saves one
   * alone as a model with only preprocessing), or JSON of the importer's preprocessing layers.
   */
  preprocessing?: ArrayBuffer | Uint8Array;
}

function bytesOf(b: ArrayBuffer | Uint8Array): Uint8Array {
  return b instanceof Uint8Array ? b : new Uint8Array(b);
}

/**
 * Reads a separately saved vectorizer: a Keras file (its preprocessing layers) or JSON (a list
 * of `{className, config, vocabulary}` as the importer reports them).
 */
export async function readPreprocessing(
  bytes: Uint8Array,
  field: string,
): Promise<PreprocessingLayer[]> {
  const first = bytes.find((b) => b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09);
  let layers: unknown;
  if (first === 0x5b || first === 0x7b) {
    try {
      layers = JSON.parse(new TextDecoder().decode(bytes));
    } catch (e) {
      throw new ServingConfigError(field, "JSON preprocessing layers", (e as Error).message);
    }
    if (!Array.isArray(layers)) layers = [layers];
  } else {
    layers = (await loadModel(bytes, { name: field })).preprocessing;
  }
  const list = layers as PreprocessingLayer[];
  if (
    !list.some((l) =>
      typeof l === "object" && l !== null && l.className === "TextVectorization" &&
      Array.isArray(l.vocabulary)
    )
  ) {
    throw new ServingConfigError(field, "a file holding a TextVectorization", "none in it");
  }
  return list;
}

/** Loads every model from its bytes and builds the handler over them. */
export async function createBundledHandler(
  files: Record<string, BundledModelFiles>,
  options: Omit<HandlerOptions, "models"> = {},
): Promise<ServingHandler> {
  const models: Record<string, ModelEntry> = {};
  for (const [name, f] of Object.entries(files)) {
    const loaded = await loadModel(bytesOf(f.model), { name });
    models[name] = f.preprocessing
      ? {
        ...loaded,
        preprocessing: await readPreprocessing(
          bytesOf(f.preprocessing),
          `models.${name}.preprocessing`,
        ),
      }
      : loaded;
  }
  return createHandler({ ...options, models });
}
