/**
 * The load generator: C concurrent clients sending one request after another for N seconds with
 * Deno's `fetch` (kept-alive connections), and the summary statistics of what came back.
 *
 * @module
 */

/** What one load run measured. */
export interface LoadResult {
  /** Concurrent clients. */
  concurrency: number;
  /** Wall time of the run, seconds. */
  seconds: number;
  /** Requests that got an answer (any status). */
  requests: number;
  /** Requests per second (answered). */
  throughput: number;
  /** Latency percentiles of answered requests, milliseconds. */
  p50: number;
  p95: number;
  p99: number;
  /** Answers by HTTP status. */
  statuses: Record<string, number>;
  /** Requests that got no answer (connection errors). */
  networkErrors: number;
}

/** The `q`-quantile (0–1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank];
}

/** One request to send: a fresh `RequestInit` each time (bodies are single-use). */
export type RequestFactory = (i: number) => { url: string; init: RequestInit };

/**
 * Runs `concurrency` clients for `seconds`, each sending the next request as soon as the last
 * answer's body is read. `check`, when given, sees every answer (e.g. to verify predictions).
 */
export async function runLoad(
  make: RequestFactory,
  concurrency: number,
  seconds: number,
  check?: (status: number, body: string, i: number) => void,
): Promise<LoadResult> {
  const latencies: number[] = [];
  const statuses: Record<string, number> = {};
  let networkErrors = 0;
  let sent = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const client = async () => {
    while (performance.now() < end) {
      const i = sent++;
      const { url, init } = make(i);
      const t0 = performance.now();
      try {
        const res = await fetch(url, init);
        const body = await res.text();
        latencies.push(performance.now() - t0);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        check?.(res.status, body, i);
      } catch {
        networkErrors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, client));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    concurrency,
    seconds: elapsed,
    requests: latencies.length,
    throughput: latencies.length / elapsed,
    p50: quantile(latencies, 0.5),
    p95: quantile(latencies, 0.95),
    p99: quantile(latencies, 0.99),
    statuses,
    networkErrors,
  };
}
