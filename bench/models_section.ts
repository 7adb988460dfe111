/**
 * Model throughput: engine vs TF.js wasm vs TF.js cpu on the same spec and inputs, batch 1, 8 and
 * 64, measured in interleaved rounds within one run.
 *
 * TF.js cpu is 20–100× slower, so it gets fewer calls; when one full-batch call would take more
 * than {@link CPU_SLICE_THRESHOLD_MS} (projected from batch 8), it is timed on a
 * {@link CPU_SLICE}-sample slice of the batch and its samples/s extrapolated — flagged in the
 * results.
 */
import {
  buildModel,
  type Model,
  setKernelThreads,
  type Tensor,
  withoutKernelThreads,
} from "../packages/engine/mod.ts";
import type { ModelCase } from "./cases.ts";
import {
  type Contender,
  interleaved,
  type Stats,
  summarize,
  timeBox,
  timedOutText,
} from "./timing.ts";
import { tfjsRunner } from "./tfjs_backends.ts";
import {
  CONTENDED_RETRIES,
  CONTENDED_WAIT_MS,
  CORES_FREE_FRACTION,
  settledCores,
} from "./core_probe.ts";
import { exportOnnx } from "../packages/onnx/mod.ts";
import {
  openOrtPeer,
  ORT_PEER_LABELS,
  ORT_PEERS,
  type OrtPeer,
  type OrtPeerName,
} from "./ort_peers.ts";

/** Batch sizes every model runs at. */
export const BATCHES = [1, 8, 64];
/** Projected TF.js cpu call time above which it is timed on a slice. */
export const CPU_SLICE_THRESHOLD_MS = 3000;
/** Samples in the TF.js cpu slice. */
export const CPU_SLICE = 16;

/** One contender's result at one batch size. */
export interface ContenderResult extends Stats {
  /** Samples per second from the median call. */
  samplesPerSecond: number;
  /** Samples per timed call (< batch when TF.js cpu ran on a slice). */
  samplesPerCall: number;
}

/** One model at one batch size. */
export interface ModelResult {
  id: string;
  family: "cnn" | "text" | "graph" | "application";
  /** Square input side of image models (the applications). */
  inputSize?: number;
  label: string;
  batch: number;
  /** Forward multiply-add flops per sample of the GEMM-shaped layers. */
  flopsPerSample: number;
  /** The engine single-threaded (the default). */
  engine: ContenderResult;
  /** The engine with kernel threads on (`setKernelThreads`), when the runtime allows them. */
  engineThreads?: ContenderResult;
  /** Threads of engineThreads. */
  threads?: number;
  tfjsWasm: ContenderResult;
  tfjsCpu: ContenderResult;
  /** tfjsWasm median / engine median per sample (> 1: engine faster). */
  speedupVsWasm: number;
  speedupVsCpu: number;
  /** The same for engineThreads. */
  threadsSpeedupVsWasm?: number;
  threadsSpeedupVsCpu?: number;
  /** Largest |engine − TF.js wasm| over the outputs (sanity: same model). */
  maxAbsDiffVsWasm: number;
  /**
   * ONNX Runtime columns (the model exported by `@scratchnet/onnx`, same weights): ORT-web wasm
   * and onnxruntime-node at 1 and 2 threads; absent for models run without them.
   */
  ort?: Partial<Record<OrtPeerName, ContenderResult>>;
  /**
   * ONNX Runtime columns that gave no samples at this batch and why: "timed out after 120 s
   * (round 1)" when a measurement passed its time box ({@link MeasureOptions.ortTimeLimitMs}),
   * "not run (…)" at the batches after one that failed.
   */
  ortFailures?: Partial<Record<OrtPeerName, string>>;
  /** Largest |engine − ONNX Runtime| over the outputs of every ORT column. */
  maxAbsDiffVsOrt?: number;
  /**
   * Cores the engine's threads had between them around the rounds kept (`settledCores` before
   * and after, the lower; up to `threads`): absent when the engine ran on one thread only.
   */
  coresFree?: number;
  /** Times the rounds were measured because too few cores were free (0 or absent: once). */
  remeasured?: number;
}

/** Largest |engine − ONNX Runtime| accepted before timing. */
export const ORT_TOLERANCE = 1e-4;

/**
 * Default time box of one ONNX Runtime measurement (opening a session, the output check, the
 * warm-up, one round): far above any real one (a full-size InceptionV3 batch of 8 in ORT-web
 * takes seconds), so only a stuck call reaches it.
 */
export const ORT_TIME_LIMIT_MS = 120_000;

/** Selections and limits of {@link measureModel}. */
export interface MeasureOptions {
  /** Only these batch sizes (of the case's own). */
  batches?: readonly number[];
  /** ONNX Runtime columns to run (default: all, when `withOrt`). */
  peers?: readonly OrtPeerName[];
  /** Time box of each ONNX Runtime measurement, ms (default {@link ORT_TIME_LIMIT_MS}). */
  ortTimeLimitMs?: number;
  /** Wasm memory multi-threaded ORT-web starts with (default `ORT_WEB_RESERVE_BYTES`). */
  ortWebReserveBytes?: number;
  /** Progress lines (e.g. an ONNX Runtime column dropped). */
  log?: (message: string) => void;
}

function result(samples: number[], samplesPerCall: number): ContenderResult {
  const s = summarize(samples);
  return { ...s, samplesPerCall, samplesPerSecond: samplesPerCall / (s.medianMs / 1000) };
}

/** Idle time after which the threaded engine's replicas would end: longer than any cell. */
const THREADED_IDLE_MS = 3_600_000;

/** Budgets per round: [engine/wasm ms, cpu ms], rounds. */
function budgets(quick: boolean): { fast: number; cpu: number; rounds: number } {
  return quick ? { fast: 120, cpu: 100, rounds: 2 } : { fast: 250, cpu: 200, rounds: 3 };
}

/**
 * Runs one model case at every batch size (`c.batches`, default {@link BATCHES}); `threads` > 1
 * adds the engine on that many threads (predict replicas for batches of ≥ `threads` samples,
 * kernel threads for smaller ones); `withOrt` adds the ONNX Runtime columns.
 */
export async function measureModel(
  c: ModelCase,
  quick: boolean,
  threads = 1,
  withOrt = false,
  options: MeasureOptions = {},
): Promise<ModelResult[]> {
  const limitMs = options.ortTimeLimitMs ?? ORT_TIME_LIMIT_MS;
  const log = options.log ?? (() => {});
  const engine: Model = buildModel(c.spec);
  /**
   * The engine's n-thread mode, as a user keeps it: a second model whose predict replicas split
   * batches of ≥ n samples, and the process's kernel threads, which split the layers of a single
   * sample. Both are started once and live through every round (idle replicas would end after
   * 2 s, and restarting either each round would time cold workers), while the one-thread
   * contenders run with the kernel threads suspended.
   */
  const threaded: Model | undefined = threads > 1 ? buildModel(c.spec) : undefined;
  if (threaded) {
    setKernelThreads(threads);
    threaded.setPredictThreads(threads, { idleMs: THREADED_IDLE_MS });
  }
  const wasm = await tfjsRunner(c.spec, "wasm", c.tfjsModel);
  const cpu = await tfjsRunner(c.spec, "cpu", c.tfjsModel);
  /** Columns still measured; a failed one leaves, with its cell text for later batches. */
  let peers: OrtPeer[] = [];
  const failed = new Map<OrtPeerName, string>();
  /** Drops `peer` at `batch` (after `abandon` unless done); returns `why`, its cell there. */
  const drop = async (peer: OrtPeer, batch: number, why: string, abandon = true) => {
    failed.set(peer.name, `not run (batch ${batch}: ${why})`);
    peers = peers.filter((p) => p !== peer);
    log(`  ${ORT_PEER_LABELS[peer.name]} dropped at batch ${batch}: ${why}`);
    if (abandon) await peer.abandon();
    return why;
  };
  const { fast, cpu: cpuBudget, rounds } = budgets(quick);
  const out: ModelResult[] = [];
  let cpuMsPerSample = 0;
  try {
    if (withOrt) {
      const bytes = exportOnnx(engine);
      for (const name of options.peers ?? ORT_PEERS) {
        const opening = openOrtPeer(bytes, name, { webReserveBytes: options.ortWebReserveBytes });
        const r = await timeBox(opening, limitMs);
        if (r.ok) peers.push(r.value);
        else {
          failed.set(name, `${timedOutText(limitMs)} (opening the session)`);
          log(`  ${ORT_PEER_LABELS[name]} dropped: ${failed.get(name)}`);
          // A session that opens after all is ended then.
          opening.then((p) => p.abandon(), () => {});
        }
      }
    }
    const slice = c.cpuSlice ?? CPU_SLICE;
    const batches = (c.batches ?? BATCHES).filter((b) =>
      !options.batches || options.batches.includes(b)
    );
    for (const batch of batches) {
      /** Why each column has no samples at this batch. */
      const ortFailures: Partial<Record<OrtPeerName, string>> = {};
      for (const [name, why] of failed) ortFailures[name] = why;
      const x = c.input(batch);
      // Same input, same weights: the outputs must agree (catches a benchmark of a wrong model).
      const yEngine = engine.predict(x, { batchSize: batch }).data;
      await wasm.activate();
      const yWasm = wasmOutput(wasm, x);
      let maxDiff = 0;
      for (let i = 0; i < yEngine.length; i++) {
        maxDiff = Math.max(maxDiff, Math.abs(yEngine[i] - yWasm[i]));
      }
      if (yEngine.length !== yWasm.length || !(maxDiff <= (c.tolerance ?? Infinity))) {
        throw new Error(
          `${c.label}, batch ${batch}: engine and TF.js wasm outputs differ (max |Δ| ${maxDiff}, ` +
            `${yEngine.length} vs ${yWasm.length} values; tolerance ${c.tolerance})`,
        );
      }
      let maxDiffOrt = 0;
      for (const peer of [...peers]) {
        const r = await timeBox(peer.predict(x), limitMs);
        if (!r.ok) {
          ortFailures[peer.name] = await drop(
            peer,
            batch,
            `${timedOutText(limitMs)} (output check)`,
          );
          continue;
        }
        const y = r.value;
        for (let i = 0; i < yEngine.length; i++) {
          maxDiffOrt = Math.max(maxDiffOrt, Math.abs(yEngine[i] - y[i]));
        }
        if (y.length !== yEngine.length || !(maxDiffOrt <= ORT_TOLERANCE)) {
          throw new Error(
            `${c.label}, batch ${batch}: engine and ${peer.name} outputs differ (max |Δ| ` +
              `${maxDiffOrt}, ${yEngine.length} vs ${y.length} values)`,
          );
        }
      }
      // TF.js cpu: one untimed call first (JIT warm-up, and the estimate for slow models).
      await cpu.activate();
      const probeX = batch > slice ? x.sliceBatch(0, slice) : x;
      const probeStart = performance.now();
      cpu.predict(probeX);
      const probeMs = performance.now() - probeStart;
      const projected = Math.max(
        cpuMsPerSample * batch,
        probeMs * batch / Math.min(batch, slice),
      );
      const cpuX = batch > slice && projected > CPU_SLICE_THRESHOLD_MS ? x.sliceBatch(0, slice) : x;
      const cpuCallMs = projected * cpuX.shape[0] / batch;
      // A call over a second is its own sample (JIT warm-up is noise at that scale).
      const probeIsSample = probeMs > 1000 && cpuX.shape[0] === probeX.shape[0];
      const contenders: Contender[] = [
        {
          name: "engine",
          run: () => void withoutKernelThreads(() => engine.predict(x, { batchSize: batch })),
          budgetMs: fast,
          minCalls: 3,
          warmupMs: quick ? 200 : 400,
        },
        {
          name: "wasm",
          prepare: () => wasm.activate(),
          run: () => wasm.predict(x),
          budgetMs: fast,
          minCalls: 2,
          warmupMs: quick ? 200 : 400,
        },
      ];
      if (threads > 1) {
        contenders.push({
          name: "engineThreads",
          // Its warm-up starts the replicas (not timed) and lets their JIT warm as the others'.
          run: () => void threaded!.predict(x, { batchSize: batch }),
          budgetMs: fast,
          minCalls: 3,
          warmupMs: quick ? 200 : 400,
        });
      }
      for (const peer of peers) {
        contenders.push({
          name: peer.name,
          sample: (budgetMs, minCalls, maxCalls) => peer.sample(x, budgetMs, minCalls, maxCalls),
          timeLimitMs: limitMs,
          abandon: () => peer.abandon(),
          budgetMs: fast,
          minCalls: 2,
          warmupMs: quick ? 200 : 400,
        });
      }
      if (!probeIsSample) {
        contenders.push({
          name: "cpu",
          prepare: () => cpu.activate(),
          run: () => cpu.predict(cpuX),
          budgetMs: cpuBudget,
          minCalls: 1,
          warmupMs: cpuCallMs > 500 ? undefined : 50,
          // A call over a second: one timed call in the first round only.
          rounds: cpuCallMs > 1000 ? 1 : undefined,
        });
      }
      // The rounds, with the cores free around them when the engine runs threaded; measured
      // again (without the columns that failed) while another tenant holds a core.
      const attempt = async (cs: Contender[]) => {
        if (threads < 2) return { ...await interleaved(cs, rounds), cores: undefined };
        const before = await settledCores();
        // Each round starts once the last contender's threads stopped spinning.
        const r = await interleaved(cs, rounds, settledCores);
        return { ...r, cores: Math.min(before, await settledCores()) };
      };
      let kept = await attempt(contenders);
      const failures = new Map(kept.failures);
      let remeasured = 0;
      while (
        kept.cores !== undefined && kept.cores < threads * CORES_FREE_FRACTION &&
        remeasured < CONTENDED_RETRIES
      ) {
        remeasured++;
        log(
          `  batch ${batch}: ${kept.cores.toFixed(2)} of ${threads} cores free around the ` +
            `rounds; measuring again in ${CONTENDED_WAIT_MS / 1000} s (${remeasured} of ` +
            `${CONTENDED_RETRIES})`,
        );
        await new Promise((r) => setTimeout(r, CONTENDED_WAIT_MS));
        const again = await attempt(contenders.filter((c) => !failures.has(c.name)));
        for (const [name, why] of again.failures) failures.set(name, why);
        if (again.cores! > kept.cores) kept = again;
      }
      const { samples } = kept;
      for (const peer of [...peers]) {
        const why = failures.get(peer.name);
        if (why === undefined) continue;
        ortFailures[peer.name] = await drop(peer, batch, why, false); // interleaved abandoned it
      }
      if (probeIsSample) samples.set("cpu", [probeMs]);
      const e = result(samples.get("engine")!, batch);
      const et = threads > 1 ? result(samples.get("engineThreads")!, batch) : undefined;
      const w = result(samples.get("wasm")!, batch);
      const p = result(samples.get("cpu")!, cpuX.shape[0]);
      cpuMsPerSample = p.medianMs / p.samplesPerCall;
      out.push({
        id: c.id,
        family: c.family,
        inputSize: c.inputSize,
        label: c.label,
        batch,
        flopsPerSample: c.flopsPerSample,
        engine: e,
        engineThreads: et,
        threads: et ? threads : undefined,
        tfjsWasm: w,
        tfjsCpu: p,
        speedupVsWasm: e.samplesPerSecond / w.samplesPerSecond,
        speedupVsCpu: e.samplesPerSecond / p.samplesPerSecond,
        threadsSpeedupVsWasm: et ? et.samplesPerSecond / w.samplesPerSecond : undefined,
        threadsSpeedupVsCpu: et ? et.samplesPerSecond / p.samplesPerSecond : undefined,
        maxAbsDiffVsWasm: maxDiff,
        ...(withOrt
          ? {
            ort: Object.fromEntries(
              peers.map((peer) => [peer.name, result(samples.get(peer.name)!, batch)]),
            ),
            ...(Object.keys(ortFailures).length ? { ortFailures } : {}),
            ...(peers.length ? { maxAbsDiffVsOrt: maxDiffOrt } : {}),
          }
          : {}),
        ...(kept.cores === undefined ? {} : { coresFree: kept.cores, remeasured }),
      });
    }
  } finally {
    setKernelThreads(1);
    engine.dispose();
    threaded?.dispose(); // ends its replicas too
    wasm.dispose();
    cpu.dispose();
    for (const peer of peers) await peer.dispose();
  }
  return out;
}

function wasmOutput(
  runner: Awaited<ReturnType<typeof tfjsRunner>>,
  x: Tensor,
): Float32Array | Int32Array {
  let y: Float32Array | Int32Array = new Float32Array(0);
  runner.predict(x, (data) => {
    y = data;
  });
  return y;
}
