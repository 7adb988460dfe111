/**
 * Downloading into the cache: fetch with a progress bar, write to a temporary file, verify the
 * MD5, then move it into place without ever replacing a file that is already there.
 *
 * @module
 */

import { dirname } from "node:path";
import { createMd5, md5File } from "./checksum.ts";
import { ChecksumError, DatasetNotFoundError, DownloadError, type MissingFile } from "./errors.ts";
import { isFile } from "./paths.ts";
import { createProgress, type ProgressSetting } from "./progress.ts";

/** Options of {@linkcode downloadFile}. */
export interface DownloadOptions {
  /** Published MD5 (hex); the download is rejected if the bytes differ. */
  md5?: string;
  /** Progress bar on stderr: default only when stderr is a terminal. */
  progress?: ProgressSetting;
  /** Label shown on the progress bar; default the file name. */
  label?: string;
  /** Abort when no bytes arrive for this long; default 60 s. */
  idleTimeoutMs?: number;
  /** The fetch implementation; default the global `fetch`. */
  fetch?: typeof fetch;
}

/** Removes a file, ignoring a file that is already gone. */
export async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Already gone: nothing to clean up.
  }
}

/** Moves `tmp` to `dest` unless `dest` exists; `tmp` is gone afterwards either way. */
export async function publishFile(tmp: string, dest: string): Promise<void> {
  try {
    // link() fails if dest exists, so a file that appeared meanwhile is never replaced.
    await Deno.link(tmp, dest);
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists) && !(await isFile(dest))) {
      await Deno.rename(tmp, dest);
      return;
    }
  }
  await removeQuietly(tmp);
}

/**
 * Downloads `url` to `dest`. The bytes go to a temporary file beside `dest` first; `dest` only
 * appears once the transfer is complete and its MD5 (if given) matches. An existing `dest` is
 * never overwritten.
 *
 * @throws {DownloadError} network failure, HTTP status other than 2xx, stalled or short transfer.
 * @throws {ChecksumError} the received bytes do not have the expected MD5.
 */
export async function downloadFile(
  url: string,
  dest: string,
  options: DownloadOptions = {},
): Promise<void> {
  const fetchImpl = options.fetch ?? fetch;
  const idleMs = options.idleTimeoutMs ?? 60_000;
  await Deno.mkdir(dirname(dest), { recursive: true });

  const controller = new AbortController();
  let idleTimer: ReturnType<typeof setTimeout> | undefined;
  let stalled = false;
  const armIdleTimer = () => {
    clearTimeout(idleTimer);
    idleTimer = setTimeout(() => {
      stalled = true;
      controller.abort();
    }, idleMs);
  };

  const tmp = `${dest}.${crypto.randomUUID().slice(0, 8)}.part`;
  let file: Deno.FsFile | undefined;
  try {
    armIdleTimer();
    let response: Response;
    try {
      response = await fetchImpl(url, { signal: controller.signal });
    } catch (error) {
      const reason = stalled
        ? `no answer for ${idleMs / 1000} s`
        : `network error (${errorMessage(error)}; offline?)`;
      throw new DownloadError(url, reason, undefined, { cause: error });
    }
    if (!response.ok || response.body === null) {
      await response.body?.cancel();
      throw new DownloadError(
        url,
        `HTTP ${response.status} ${response.statusText}`,
        response.status,
      );
    }
    const lengthHeader = response.headers.get("content-length");
    const total = lengthHeader === null ? undefined : Number(lengthHeader);
    const progress = createProgress(options.label ?? dest.split(/[\\/]/).pop()!, total, {
      enabled: options.progress,
    });
    const md5 = createMd5();
    let received = 0;
    file = await Deno.open(tmp, { write: true, createNew: true });
    try {
      for await (const chunk of response.body) {
        armIdleTimer();
        md5.update(chunk);
        received += chunk.length;
        progress.add(chunk.length);
        let written = 0;
        while (written < chunk.length) written += await file.write(chunk.subarray(written));
      }
    } catch (error) {
      const reason = stalled
        ? `no data for ${idleMs / 1000} s after ${received} bytes`
        : errorMessage(error);
      throw new DownloadError(url, reason, response.status, { cause: error });
    } finally {
      progress.done();
    }
    file.close();
    file = undefined;
    if (total !== undefined && Number.isFinite(total) && received !== total) {
      throw new DownloadError(
        url,
        `short transfer: ${received} of ${total} bytes`,
        response.status,
      );
    }
    if (options.md5 !== undefined) {
      const actual = md5.hex();
      if (actual !== options.md5.toLowerCase()) {
        throw new ChecksumError(
          url,
          options.md5.toLowerCase(),
          actual,
          "The server sent different bytes; nothing was written to the cache",
        );
      }
    }
    await publishFile(tmp, dest);
  } finally {
    clearTimeout(idleTimer);
    try {
      file?.close();
    } catch {
      // Already closed.
    }
    await removeQuietly(tmp);
  }
}

/** A file a loader needs, where it goes in the cache, and where it comes from. */
export interface CachedFile {
  /** Absolute path in the cache folder. */
  path: string;
  /** Download URLs, tried in order. */
  urls: string[];
  /** Published MD5 (hex), if any. */
  md5?: string;
}

/** Options of {@linkcode ensureCachedFiles}. */
export interface EnsureOptions {
  /** Download missing files (default `true`). */
  download?: boolean;
  /** Check the MD5 of files already in the cache (default `true`; downloads are always checked). */
  verifyChecksum?: boolean;
  /** Progress bar setting. */
  progress?: ProgressSetting;
  /** fetch implementation (tests). */
  fetch?: typeof fetch;
}

/**
 * Makes sure every file in `files` is in the cache: checks the ones present, downloads the
 * missing ones (trying each URL in turn).
 *
 * @throws {DatasetNotFoundError} some files are missing and could not be downloaded.
 * @throws {ChecksumError} a cached file, or every download of a file, has the wrong MD5.
 */
export async function ensureCachedFiles(
  dataset: string,
  files: CachedFile[],
  options: EnsureOptions = {},
): Promise<void> {
  const download = options.download ?? true;
  const missing: MissingFile[] = [];
  let firstFailure: unknown;
  for (const file of files) {
    if (await isFile(file.path)) {
      if ((options.verifyChecksum ?? true) && file.md5 !== undefined) {
        const actual = await md5File(file.path);
        if (actual !== file.md5.toLowerCase()) {
          throw new ChecksumError(
            file.path,
            file.md5.toLowerCase(),
            actual,
            "Delete the file to download it again, or pass verifyChecksum: false to use it as is",
          );
        }
      }
      continue;
    }
    if (!download) {
      missing.push({ path: file.path, urls: file.urls });
      continue;
    }
    let checksumFailure: ChecksumError | undefined;
    let done = false;
    for (const url of file.urls) {
      try {
        await downloadFile(url, file.path, {
          md5: file.md5,
          progress: options.progress,
          fetch: options.fetch,
        });
        done = true;
        break;
      } catch (error) {
        if (error instanceof ChecksumError) checksumFailure ??= error;
        else if (error instanceof DownloadError) firstFailure ??= error;
        else throw error;
      }
    }
    if (done) continue;
    // A mirror that answers with the wrong bytes is a louder problem than an unreachable one.
    if (checksumFailure) throw checksumFailure;
    missing.push({ path: file.path, urls: file.urls });
  }
  if (missing.length > 0) {
    const reason = !download
      ? "downloads are disabled (download: false)"
      : `download failed: ${errorMessage(firstFailure)}`;
    throw new DatasetNotFoundError(dataset, missing, reason, { cause: firstFailure });
  }
}

/**
 * Checks that every file a loader needs is in a user-given folder (no download there).
 *
 * @throws {DatasetNotFoundError} listing the missing files and their download URLs.
 */
export async function requireLocalFiles(dataset: string, files: MissingFile[]): Promise<void> {
  const missing: MissingFile[] = [];
  for (const file of files) if (!(await isFile(file.path))) missing.push(file);
  if (missing.length > 0) {
    throw new DatasetNotFoundError(dataset, missing, "not in the folder given as dir");
  }
}

/** Verifies the MD5 of a local file. @throws {ChecksumError} */
export async function verifyMd5(path: string, md5: string): Promise<void> {
  const actual = await md5File(path);
  if (actual !== md5.toLowerCase()) {
    throw new ChecksumError(
      path,
      md5.toLowerCase(),
      actual,
      "This is not the published file; pass verifyChecksum: false to use it anyway",
    );
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
