/**
 * A fuzz campaign: builds the seeds, generates cases deterministically from `(seed, index)`,
 * sends them one at a time to a runner child process, and kills and restarts the runner when a
 * case hangs or crashes it. Collects per-format counts and findings, and writes every failing
 * input to a folder for reproduction.
 *
 * @module
 */
import { type FuzzCase, makeCase } from "./cases.ts";
import { type CaseResult, encodeCase, type FindingDetail, MESSAGE_PREFIX } from "./protocol.ts";
import { type AnyFormat, buildSeeds, type Seed } from "./seeds.ts";

/** Options of {@link runCampaign}. */
export interface CampaignOptions {
  /** Campaign seed; equal seeds give equal cases. */
  seed: number;
  /** Stop after this many cases. */
  cases: number;
  /** Stop dispatching new cases after this many seconds. */
  seconds: number;
  /** Formats to fuzz, cycled case by case. */
  formats: readonly AnyFormat[];
  /** Run only these case indices (reproduction). */
  only?: readonly number[];
  /** Where failing inputs are written (default: a new temporary folder). */
  outDir?: string;
  /** A case slower than this is a finding (default 1000 ms). */
  slowMs?: number;
  /** The runner is killed when a case has not answered after this long (default 10 s). */
  hangMs?: number;
  /** Allocation budget factor over the input size (default 4). */
  allocFactor?: number;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

/** Counts of one format. */
export interface FormatStats {
  cases: number;
  accepted: number;
  rejected: number;
  skipped: number;
  failed: number;
  maxMs: number;
  /** Sum of the cases' run times (for the mean). */
  totalMs: number;
  /** Largest tracked single allocation relative to the case's reference size. */
  maxAllocRatio: number;
}

/** A failing case. */
export interface Finding {
  index: number;
  format: AnyFormat;
  seedName: string;
  mutation: string;
  findings: FindingDetail[];
  error?: CaseResult["error"];
  /** Folder holding the input files and `case.json`. */
  savedTo: string;
}

/** What a campaign did. */
export interface CampaignReport {
  seed: number;
  perFormat: Record<string, FormatStats>;
  findings: Finding[];
  total: number;
  elapsedMs: number;
  outDir: string;
  /** `cases` when the case count was reached, `time` when the time box ended it. */
  stoppedBy: "cases" | "time";
}

const RUNNER = new URL("./runner.ts", import.meta.url);
const REPO_ROOT = new URL("../../", import.meta.url);

/** A runner child process with a line queue over its stdout. */
class Runner {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #queue: unknown[] = [];
  #wake: (() => void) | undefined;
  #exited = false;
  readonly status: Promise<Deno.CommandStatus>;
  stderrTail = "";

  constructor(env: Record<string, string>, workDir: string) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--quiet",
        `--config=${new URL("deno.json", REPO_ROOT).pathname}`,
        "--v8-flags=--expose-gc,--max-old-space-size=2048",
        RUNNER.pathname,
      ],
      // Relative paths in fuzzed command lines land in the scratch folder, not the checkout.
      cwd: workDir,
      env,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#writer = this.#child.stdin.getWriter();
    this.status = this.#child.status.then((s) => {
      this.#exited = true;
      this.#wake?.();
      return s;
    });
    this.#pump();
    this.#drainStderr();
  }

  async #pump(): Promise<void> {
    let pending = "";
    try {
      for await (const chunk of this.#child.stdout.pipeThrough(new TextDecoderStream())) {
        pending += chunk;
        let nl: number;
        while ((nl = pending.indexOf("\n")) >= 0) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          const at = line.indexOf(MESSAGE_PREFIX);
          if (at < 0) continue;
          this.#queue.push(JSON.parse(line.slice(at + MESSAGE_PREFIX.length)));
          this.#wake?.();
        }
      }
    } catch {
      // The child was killed mid-line.
    }
  }

  async #drainStderr(): Promise<void> {
    try {
      for await (const chunk of this.#child.stderr.pipeThrough(new TextDecoderStream())) {
        this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      }
    } catch {
      // Killed.
    }
  }

  /** The next message, or `"timeout"` / `"exited"`. */
  async next(timeoutMs: number): Promise<unknown> {
    const deadline = performance.now() + timeoutMs;
    while (this.#queue.length === 0) {
      if (this.#exited) return "exited";
      const left = deadline - performance.now();
      if (left <= 0) return "timeout";
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    return this.#queue.shift();
  }

  async send(frame: Uint8Array): Promise<boolean> {
    try {
      await this.#writer.write(frame);
      return true;
    } catch {
      return false;
    }
  }

  async stop(): Promise<void> {
    try {
      await this.#writer.close();
    } catch {
      // Already gone.
    }
    const timer = setTimeout(() => this.kill(), 5000);
    await this.status;
    clearTimeout(timer);
  }

  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }
}

function emptyStats(): FormatStats {
  return {
    cases: 0,
    accepted: 0,
    rejected: 0,
    skipped: 0,
    failed: 0,
    maxMs: 0,
    totalMs: 0,
    maxAllocRatio: 0,
  };
}

async function saveCase(
  outDir: string,
  c: FuzzCase,
  finding: Omit<Finding, "savedTo">,
  seed: number,
) {
  const kinds = [...new Set(finding.findings.map((f) => f.kind))].join("+");
  const dir = `${outDir}/${c.format}-${c.index}-${kinds}`;
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(c.files)) {
    await Deno.writeFile(`${dir}/${name.replace(/[\\/]/g, "_")}`, bytes);
  }
  await Deno.writeTextFile(
    `${dir}/case.json`,
    JSON.stringify(
      {
        ...finding,
        meta: c.meta,
        refBytes: c.refBytes,
        reproduce: `deno task fuzz --seed ${seed} --format ${c.format} --case ${c.index}`,
      },
      null,
      2,
    ),
  );
  return dir;
}

/** Runs a campaign and returns its report (it does not print unless `log` is given). */
export async function runCampaign(options: CampaignOptions): Promise<CampaignReport> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const outDir = options.outDir ?? await Deno.makeTempDir({ prefix: "scratchnet-fuzz-" });
  await Deno.mkdir(outDir, { recursive: true });
  const seeds: Seed[] = await buildSeeds(options.formats);
  const formats = options.formats.filter((f) => seeds.some((s) => s.format === f));
  const missing = options.formats.filter((f) => !formats.includes(f));
  if (missing.length > 0) log(`no seeds for ${missing.join(", ")} (skipped)`);
  log(`${seeds.length} seeds built in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const workDir = await Deno.makeTempDir({ prefix: "scratchnet-fuzz-work-" });
  const env = {
    FUZZ_WORK_DIR: workDir,
    FUZZ_ALLOC_FACTOR: String(options.allocFactor ?? 4),
    FUZZ_SLOW_MS: String(options.slowMs ?? 1000),
    NO_COLOR: "1",
  };
  const hangMs = options.hangMs ?? 10_000;
  const perFormat: Record<string, FormatStats> = {};
  for (const f of formats) perFormat[f] = emptyStats();
  const findings: Finding[] = [];
  let runner: Runner | undefined;
  const startRunner = async (): Promise<Runner> => {
    const r = new Runner(env, workDir);
    const ready = await r.next(120_000);
    if (typeof ready !== "object" || !(ready as { ready?: boolean }).ready) {
      r.kill();
      throw new Error(`fuzz runner did not start (${String(ready)}): ${r.stderrTail}`);
    }
    return r;
  };
  const indices = options.only ?? Array.from({ length: options.cases }, (_, i) => i);
  let total = 0;
  let stoppedBy: CampaignReport["stoppedBy"] = "cases";
  const deadline = started + options.seconds * 1000;
  let lastLog = performance.now();
  const prepare = (position: number): FuzzCase | undefined => {
    if (position >= indices.length) return undefined;
    const index = indices[position];
    const format = options.only ? formats[0] : formats[index % formats.length];
    return makeCase(seeds, format, options.seed, index);
  };
  let next = prepare(0);
  try {
    for (let position = 0; next !== undefined; position++) {
      if (performance.now() > deadline) {
        stoppedBy = "time";
        break;
      }
      const c = next;
      const { index, format } = c;
      runner ??= await startRunner();
      const frame = encodeCase({ index, format, refBytes: c.refBytes, meta: c.meta }, c.files);
      const sent = await runner.send(frame);
      // Build the next case while the runner works on this one.
      next = prepare(position + 1);
      const answer = sent ? await runner.next(hangMs) : "exited";
      const stats = perFormat[format];
      stats.cases++;
      total++;
      let result: CaseResult;
      if (answer === "timeout" || answer === "exited") {
        const kind = answer === "timeout" ? "hang" : "crash";
        runner.kill();
        const status = await runner.status;
        const detail = kind === "hang"
          ? `no answer after ${hangMs} ms; runner killed`
          : `runner exited (code ${status.code}, signal ${status.signal}): ${
            runner.stderrTail.trim().split("\n").slice(-6).join(" | ")
          }`;
        runner = undefined;
        result = {
          index,
          outcome: "failed",
          findings: [{ kind, detail }],
          ms: hangMs,
          largestAlloc: 0,
          largestWhat: "",
          heapDelta: 0,
          wasmGrowth: 0,
        };
      } else {
        result = answer as CaseResult;
      }
      stats.maxMs = Math.max(stats.maxMs, result.ms);
      stats.totalMs += result.ms;
      if (c.refBytes > 0) {
        stats.maxAllocRatio = Math.max(stats.maxAllocRatio, result.largestAlloc / c.refBytes);
      }
      stats[result.outcome]++;
      if (result.outcome === "failed") {
        const finding = {
          index,
          format,
          seedName: c.seedName,
          mutation: c.mutation,
          findings: result.findings,
          error: result.error,
        };
        const savedTo = await saveCase(outDir, c, finding, options.seed);
        findings.push({ ...finding, savedTo });
        log(
          `FINDING ${format} #${index} [${result.findings.map((f) => f.kind).join(",")}] ` +
            `${c.seedName} / ${c.mutation}: ${result.findings.map((f) => f.detail).join("; ")}`,
        );
      }
      if (performance.now() - lastLog > 10_000) {
        lastLog = performance.now();
        log(
          `${total} cases, ${findings.length} findings, ${
            ((lastLog - started) / 1000).toFixed(0)
          } s`,
        );
      }
    }
  } finally {
    await runner?.stop();
    await Deno.remove(workDir, { recursive: true }).catch(() => {});
  }
  return {
    seed: options.seed,
    perFormat,
    findings,
    total,
    elapsedMs: performance.now() - started,
    outDir,
    stoppedBy,
  };
}

/** The report as a table plus the findings (first `maxFindings`). */
export function formatReport(report: CampaignReport, maxFindings = 30): string {
  const lines: string[] = [];
  const head = [
    "format",
    "cases",
    "accepted",
    "rejected",
    "skipped",
    "failed",
    "mean ms",
    "max ms",
    "max alloc/input",
  ];
  const rows = Object.entries(report.perFormat).map(([f, s]) => [
    f,
    String(s.cases),
    String(s.accepted),
    String(s.rejected),
    String(s.skipped),
    String(s.failed),
    (s.totalMs / Math.max(1, s.cases)).toFixed(1),
    s.maxMs.toFixed(0),
    `${s.maxAllocRatio.toFixed(2)}×`,
  ]);
  const sum = (k: keyof FormatStats) =>
    String(Object.values(report.perFormat).reduce((n, s) => n + (s[k] as number), 0));
  rows.push([
    "total",
    sum("cases"),
    sum("accepted"),
    sum("rejected"),
    sum("skipped"),
    sum("failed"),
    "",
    "",
    "",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const fmt = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  lines.push(fmt(head), ...rows.map(fmt));
  lines.push(
    `seed ${report.seed}: ${report.total} cases in ${(report.elapsedMs / 1000).toFixed(1)} s ` +
      `(stopped by ${report.stoppedBy}), ${report.findings.length} findings`,
  );
  for (const f of report.findings.slice(0, maxFindings)) {
    lines.push(
      `- ${f.format} #${f.index} [${f.findings.map((x) => x.kind).join(",")}] ${f.seedName} / ` +
        `${f.mutation}`,
    );
    for (const d of f.findings) lines.push(`    ${d.kind}: ${d.detail}`);
    if (f.error?.stack) {
      lines.push(...f.error.stack.split("\n").slice(0, 6).map((l) => `      ${l.trim()}`));
    }
    lines.push(`    input: ${f.savedTo}`);
  }
  if (report.findings.length > maxFindings) {
    lines.push(`… ${report.findings.length - maxFindings} more findings in ${report.outDir}`);
  }
  return lines.join("\n");
}
