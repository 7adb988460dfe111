/**
 * File-system helpers shared by the loaders: the default cache folder and existence checks.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join, resolve } from "node:path";

/** Environment variable that overrides the default cache folder. */
export const CACHE_DIR_ENV = "SCRATCHNET_DATA_DIR";

/**
 * The folder downloads are cached in: `$SCRATCHNET_DATA_DIR` if set, else the repository's
 * `data/` folder (next to the root `deno.json`), else `./data` when this module is not a local file.
 */
export function defaultCacheDir(): string {
  let fromEnv: string | undefined;
  try {
    fromEnv = Deno.env.get(CACHE_DIR_ENV);
  } catch {
    // Without --allow-env the variable cannot be read; fall back to the repository folder.
  }
  if (fromEnv) return resolve(fromEnv);
  const here = new URL("../../../data", import.meta.url);
  if (here.protocol === "file:") return fileURLToPath(here);
  return resolve("data");
}

/** Resolves `dir` (a path or `file:` URL) to an absolute path. */
export function toPath(dir: string | URL): string {
  if (dir instanceof URL) return fileURLToPath(dir);
  if (dir.startsWith("file:")) return fileURLToPath(dir);
  return resolve(dir);
}

/** True if `path` exists and is a regular file. */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** True if `path` exists and is a directory. */
export async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** The first of `candidates` that is a regular file, or `undefined`. */
export async function firstFile(candidates: string[]): Promise<string | undefined> {
  for (const candidate of candidates) {
    if (await isFile(candidate)) return candidate;
  }
  return undefined;
}

export { join };
