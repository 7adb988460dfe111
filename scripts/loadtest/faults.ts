/**
 * The fault run: well-formed requests at a steady concurrency, checked answer by answer, while
 * other clients misbehave — malformed JSON, wrong shapes and dtypes, a Fortran-order `.npy`, a
 * declared size far over the limit, an oversize streamed body, a client too slow to finish its
 * body before the deadline, clients that disconnect mid-body or while their request waits, and the
 * model file replaced mid-load (a half-written file, then the whole new one). The report counts,
 * per kind, what was sent and what came back; the server must answer no 5xx, lose no well-formed
 * request and still be alive at the end.
 *
 * @module
 */
import { encodeNpy } from "../../packages/serving/mod.ts";
import { runLoad } from "./client.ts";

/** What one kind of fault got back. */
export interface FaultCount {
  sent: number;
  /** The status a correct server answers (null: none, the client hangs up first). */
  expected: number | null;
  /** Answers with the expected status (or, for hang-ups, the server staying up). */
  asExpected: number;
  /** Every status seen (`"none"`: no answer). */
  statuses: Record<string, number>;
}

/** The fault run's counts. */
export interface FaultReport {
  good: {
    sent: number;
    /** 200 with exactly the old or the new model's answer. */
    correct: number;
    /** 200 with another answer. */
    wrong: number;
    /** Anything else: a non-200 answer or no answer. */
    lost: number;
  };
  faults: Record<string, FaultCount>;
  /** 5xx answers over all requests. */
  serverErrors: number;
  /** `/healthz` answered 200 after the run. */
  aliveAfter: boolean;
}

/** What the fault run needs to know about the server and model. */
export interface FaultOptions {
  /** Base URL of the server. */
  url: string;
  model: string;
  /** A well-formed JSON body for the model. */
  goodBody: string;
  /** Whether a 200 body is a correct answer to `goodBody` (the old or the new model's). */
  accepts: (body: string) => boolean;
  /** A JSON body of the right form but a wrong shape, and one with a wrong dtype. */
  wrongShapeBody: string;
  wrongDtypeBody: string;
  /** The input's per-instance shape (for a Fortran-order `.npy`). */
  instanceShape: number[];
  /** The server's body limit and deadline (to build the oversize and slow clients). */
  maxBodyBytes: number;
  deadlineMs: number;
  /** Replaces the model file: called with "half" (a partial write), then "whole". */
  replaceModel?: (stage: "half" | "whole") => Promise<void>;
  seconds: number;
  concurrency: number;
}

/** Sends raw bytes over TCP and returns the status of the answer, or null if none came. */
async function rawExchange(
  url: string,
  parts: { bytes: Uint8Array; delayMs?: number }[],
  options: { hangUp?: boolean; waitMs: number },
): Promise<number | null> {
  const { hostname, port } = new URL(url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  let status: number | null = null;
  try {
    for (const part of parts) {
      if (part.delayMs) await new Promise((r) => setTimeout(r, part.delayMs));
      try {
        await conn.write(part.bytes);
      } catch {
        break; // the server closed the connection (e.g. after answering 408/413)
      }
    }
    if (options.hangUp) return null;
    const buf = new Uint8Array(256);
    const timer = setTimeout(() => conn.close(), options.waitMs);
    try {
      const n = await conn.read(buf);
      if (n !== null) {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(new TextDecoder().decode(buf.subarray(0, n)));
        if (m) status = Number(m[1]);
      }
    } catch {
      // closed by the timer: no answer
    } finally {
      clearTimeout(timer);
    }
  } finally {
    try {
      conn.close();
    } catch { /* already closed */ }
  }
  return status;
}

const encoder = new TextEncoder();

/** Runs the fault run; see the module doc. */
export async function runFaults(o: FaultOptions): Promise<FaultReport> {
  const predictUrl = `${o.url}/v1/models/${o.model}:predict`;
  const path = `/v1/models/${o.model}:predict`;
  const host = new URL(o.url).host;
  const faults: Record<string, FaultCount> = {};
  let serverErrors = 0;
  const note = (kind: string, expected: number | null, status: number | null) => {
    const f = faults[kind] ??= { sent: 0, expected, asExpected: 0, statuses: {} };
    f.sent++;
    const key = status === null ? "none" : String(status);
    f.statuses[key] = (f.statuses[key] ?? 0) + 1;
    if (status !== null && status >= 500) serverErrors++;
    if (status === expected) f.asExpected++;
  };
  const post = async (body: BodyInit, type = "application/json", signal?: AbortSignal) => {
    const res = await fetch(predictUrl, {
      method: "POST",
      headers: { "content-type": type },
      body,
      signal,
      // A stream body needs half duplex.
      ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
    } as RequestInit);
    await res.body?.cancel();
    return res.status;
  };
  const fortran = (() => {
    const n = o.instanceShape.reduce((a, b) => a * b, 1);
    const npy = encodeNpy(new Float32Array(n * 2), [2, ...o.instanceShape]);
    const text = String.fromCharCode(...npy.subarray(0, 128));
    const at = text.indexOf("False");
    const out = npy.slice();
    out.set(encoder.encode("True,"), at); // "False" → "True," keeps the header length
    return out;
  })();
  const head = (length: number | string) =>
    encoder.encode(
      `POST ${path} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${length}\r\n\r\n`,
    );
  const injectors: [string, number | null, () => Promise<number | null>][] = [
    ["malformed_json", 400, () => post('{"instances": [[1, 2')],
    ["wrong_shape", 400, () => post(o.wrongShapeBody)],
    ["wrong_dtype", 400, () => post(o.wrongDtypeBody)],
    ["npy_fortran_order", 400, () => post(fortran as BodyInit, "application/x-npy")],
    ["not_an_image", 400, () => post(encoder.encode("GIF89a garbage") as BodyInit, "image/gif")],
    [
      "huge_declared_size",
      413,
      () => rawExchange(o.url, [{ bytes: head(10 ** 12) }], { waitMs: 5000 }),
    ],
    ["oversize_stream", 413, () => {
      let left = o.maxBodyBytes + 65536;
      const chunk = encoder.encode(" ".repeat(16384));
      return post(
        new ReadableStream({
          pull(controller) {
            if (left <= 0) return controller.close();
            controller.enqueue(chunk);
            left -= chunk.length;
          },
        }),
      ).catch(() => null); // the server may close before the whole body is sent
    }],
    ["slow_client", 408, () => {
      const body = encoder.encode(o.goodBody);
      const steps = 8;
      const each = Math.ceil(body.length / steps);
      return rawExchange(
        o.url,
        [
          { bytes: head(body.length) },
          ...Array.from({ length: steps }, (_, k) => ({
            bytes: body.subarray(k * each, (k + 1) * each),
            delayMs: Math.ceil((o.deadlineMs * 2) / steps),
          })),
        ],
        { waitMs: o.deadlineMs * 2 + 5000 },
      );
    }],
    ["disconnect_mid_body", null, () => {
      const body = encoder.encode(o.goodBody);
      return rawExchange(
        o.url,
        [{ bytes: head(body.length) }, { bytes: body.subarray(0, body.length >> 1) }],
        { hangUp: true, waitMs: 0 },
      );
    }],
    ["disconnect_while_queued", null, async () => {
      const abort = new AbortController();
      const pending = post(o.goodBody, "application/json", abort.signal).catch(() => null);
      await new Promise((r) => setTimeout(r, 1));
      abort.abort();
      return await pending;
    }],
  ];
  const good = { sent: 0, correct: 0, wrong: 0, lost: 0 };
  let stop = false;
  // The slow client takes twice the deadline: it runs in a lane of its own beside the others.
  const lane = (kinds: typeof injectors) =>
    (async () => {
      let k = 0;
      while (!stop) {
        const [kind, expected, run] = kinds[k++ % kinds.length];
        let status: number | null;
        try {
          status = await run();
        } catch {
          status = null;
        }
        // A hang-up is "as expected" when the server is still there afterwards.
        if (expected === null) {
          const alive = await fetch(`${o.url}/healthz`).then(async (r) => {
            await r.body?.cancel();
            return r.status === 200;
          }).catch(() => false);
          note(kind, null, alive ? null : -1);
        } else note(kind, expected, status);
      }
    })();
  const injecting = Promise.all([
    lane(injectors.filter(([kind]) => kind !== "slow_client")),
    lane(injectors.filter(([kind]) => kind === "slow_client")),
  ]);
  const replacing = (async () => {
    if (!o.replaceModel) return;
    await new Promise((r) => setTimeout(r, (o.seconds * 1000) / 3));
    await o.replaceModel("half");
    await new Promise((r) => setTimeout(r, (o.seconds * 1000) / 3));
    await o.replaceModel("whole");
  })();
  const load = await runLoad(
    () => ({ url: predictUrl, init: { method: "POST", body: o.goodBody } }),
    o.concurrency,
    o.seconds,
    (status, body) => {
      if (status !== 200) {
        if (status >= 500) serverErrors++;
        good.lost++;
      } else if (o.accepts(body)) good.correct++;
      else good.wrong++;
    },
  );
  stop = true;
  await Promise.all([injecting, replacing]);
  good.sent = load.requests + load.networkErrors;
  good.lost += load.networkErrors;
  const aliveAfter = await fetch(`${o.url}/healthz`).then(async (r) => {
    await r.body?.cancel();
    return r.status === 200;
  }).catch(() => false);
  return { good, faults, serverErrors, aliveAfter };
}
