/**
 * The pipe protocol between the campaign (parent process) and the runner (child process).
 * Parent → child on stdin: frames of `u32 header length, header JSON, file bytes`.
 * Child → parent on stdout: one line per message, prefixed by {@link MESSAGE_PREFIX} so stray
 * library output on stdout cannot be mistaken for a result.
 *
 * @module
 */

/** A case as sent to the runner (the files follow the header in the frame). */
export interface CaseHeader {
  index: number;
  format: string;
  refBytes: number;
  meta: Record<string, unknown>;
  files: { name: string; length: number }[];
}

/** One finding of one case. */
export interface FindingDetail {
  /** `untyped`, `masked`, `slow`, `alloc`, `heap`, `leak`, `state` (or `hang`/`crash` from the parent). */
  kind: string;
  detail: string;
}

/** The runner's answer for one case. */
export interface CaseResult {
  index: number;
  /** `accepted` (no error), `rejected` (typed error), `skipped`, or `failed` (has findings). */
  outcome: "accepted" | "rejected" | "skipped" | "failed";
  findings: FindingDetail[];
  /** Error class and message, when the entry point threw. */
  error?: { name: string; message: string; stack?: string };
  ms: number;
  /** Largest single tracked allocation, bytes, and what made it. */
  largestAlloc: number;
  largestWhat: string;
  /** JS heap + external memory growth over the case, bytes. */
  heapDelta: number;
  /** Growth of the engine's WebAssembly memory, bytes. */
  wasmGrowth: number;
}

/** Marks protocol lines on the runner's stdout. */
export const MESSAGE_PREFIX = "\u001eFUZZ ";

/** Encodes a case as one frame. */
export function encodeCase(
  header: Omit<CaseHeader, "files">,
  files: Record<string, Uint8Array>,
): Uint8Array {
  const list = Object.entries(files);
  const head = new TextEncoder().encode(
    JSON.stringify({ ...header, files: list.map(([name, b]) => ({ name, length: b.length })) }),
  );
  const total = 4 + head.length + list.reduce((n, [, b]) => n + b.length, 0);
  const out = new Uint8Array(total);
  new DataView(out.buffer).setUint32(0, head.length, true);
  out.set(head, 4);
  let offset = 4 + head.length;
  for (const [, bytes] of list) {
    out.set(bytes, offset);
    offset += bytes.length;
  }
  return out;
}

/** Reads frames from a byte stream. */
export async function* readFrames(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<{ header: CaseHeader; files: Record<string, Uint8Array> }> {
  const reader = stream.getReader();
  let buffer = new Uint8Array(0);
  const need = async (n: number): Promise<boolean> => {
    while (buffer.length < n) {
      const { value, done } = await reader.read();
      if (done) return false;
      const grown = new Uint8Array(buffer.length + value.length);
      grown.set(buffer);
      grown.set(value, buffer.length);
      buffer = grown;
    }
    return true;
  };
  while (await need(4)) {
    const headLength = new DataView(buffer.buffer, buffer.byteOffset).getUint32(0, true);
    if (!await need(4 + headLength)) return;
    const header = JSON.parse(new TextDecoder().decode(buffer.subarray(4, 4 + headLength)));
    const dataLength = (header as CaseHeader).files.reduce((n, f) => n + f.length, 0);
    if (!await need(4 + headLength + dataLength)) return;
    const files: Record<string, Uint8Array> = {};
    let offset = 4 + headLength;
    for (const f of (header as CaseHeader).files) {
      files[f.name] = buffer.slice(offset, offset + f.length);
      offset += f.length;
    }
    buffer = buffer.slice(offset);
    yield { header, files };
  }
}
