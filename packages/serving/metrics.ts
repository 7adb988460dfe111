/** Prometheus text-format metrics (exposition format 0.0.4) kept in memory. */

/** Latency buckets in seconds. */
export const LATENCY_BUCKETS: readonly number[] = [
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
];
/** Batch-size buckets in instances. */
export const BATCH_BUCKETS: readonly number[] = [
  1,
  2,
  4,
  8,
  16,
  32,
  64,
  128,
  256,
  512,
];

function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(
    /"/g,
    '\\"',
  );
}

function labelText(labels: Record<string, string>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  return parts.length ? `{${parts.join(",")}}` : "";
}

class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: readonly number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(value: number): void {
    this.sum += value;
    this.count++;
    this.buckets.forEach((b, i) => {
      if (value <= b) this.counts[i]++;
    });
  }
}

/** The service's counters, histograms and gauges, labelled by model (and status / kind). */
export class Metrics {
  readonly #requests = new Map<string, number>();
  readonly #errors = new Map<string, number>();
  readonly #latency = new Map<string, Histogram>();
  readonly #batch = new Map<string, Histogram>();
  readonly #queue = new Map<string, () => number>();

  /** Counts one finished request (`model` is `""` for requests not addressed to a model). */
  request(model: string, status: number, seconds: number): void {
    const key = JSON.stringify([model, String(status)]);
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
    let h = this.#latency.get(model);
    if (!h) this.#latency.set(model, h = new Histogram(LATENCY_BUCKETS));
    h.observe(seconds);
  }

  /** Counts one error response by kind. */
  error(kind: string): void {
    this.#errors.set(kind, (this.#errors.get(kind) ?? 0) + 1);
  }

  /** Records the size (instances) of one engine batch. */
  batch(model: string, size: number): void {
    let h = this.#batch.get(model);
    if (!h) this.#batch.set(model, h = new Histogram(BATCH_BUCKETS));
    h.observe(size);
  }

  /** Registers a gauge read at scrape time: requests waiting in the model's queue. */
  queueDepth(model: string, read: () => number): void {
    this.#queue.set(model, read);
  }

  /** The Prometheus text exposition. */
  render(): string {
    const out: string[] = [];
    out.push(
      "# HELP serving_requests_total Requests answered, by model and HTTP status.",
    );
    out.push("# TYPE serving_requests_total counter");
    for (const [key, n] of this.#requests) {
      const [model, status] = JSON.parse(key) as [string, string];
      out.push(`serving_requests_total${labelText({ model, status })} ${n}`);
    }
    out.push("# HELP serving_errors_total Error responses, by kind.");
    out.push("# TYPE serving_errors_total counter");
    for (const [kind, n] of this.#errors) {
      out.push(`serving_errors_total${labelText({ kind })} ${n}`);
    }
    histogram(
      out,
      "serving_request_duration_seconds",
      "Request latency in seconds.",
      this.#latency,
    );
    histogram(
      out,
      "serving_batch_size",
      "Instances per engine batch.",
      this.#batch,
    );
    out.push("# HELP serving_queue_depth Requests waiting to be batched.");
    out.push("# TYPE serving_queue_depth gauge");
    for (const [model, read] of this.#queue) {
      out.push(`serving_queue_depth${labelText({ model })} ${read()}`);
    }
    return out.join("\n") + "\n";
  }
}

function histogram(
  out: string[],
  name: string,
  help: string,
  byModel: Map<string, Histogram>,
): void {
  out.push(`# HELP ${name} ${help}`);
  out.push(`# TYPE ${name} histogram`);
  for (const [model, h] of byModel) {
    h.buckets.forEach((b, i) => {
      out.push(
        `${name}_bucket${labelText({ model, le: String(b) })} ${h.counts[i]}`,
      );
    });
    out.push(`${name}_bucket${labelText({ model, le: "+Inf" })} ${h.count}`);
    out.push(`${name}_sum${labelText({ model })} ${h.sum}`);
    out.push(`${name}_count${labelText({ model })} ${h.count}`);
  }
}
