/// <reference lib="dom" />
/**
 * The page's module script: load a dropped model with the importer, show its summary, build an
 * input (sentence, token ids, image or numbers) and show the prediction as a bar list.
 * Bundled to `dist/app.js`, which imports `./scratchnet.js` (the all-in-one bundle).
 *
 * For tests, `document.body.dataset.state` says what the page is doing (`idle`, `loading`,
 * `ready`, `predicted`, `error`) and `#probs` carries the model's input and output as
 * `data-input` / `data-output` (JSON arrays).
 *
 * @module
 */
import {
  importer,
  type Model,
  Tensor,
  TextVectorization,
  wasmSimdSupported,
  WasmUnavailableError,
} from "./scratchnet.ts";
import {
  classLabels,
  classScores,
  type Dims,
  fitSequence,
  formatDims,
  type InputKind,
  inputKindOf,
  type LayerInfo,
  orderShards,
  PageInputError,
  parseIds,
  parseNumbers,
  pickModelFiles,
  pixelsToSample,
  sampleShape,
  vocabularySizeOf,
} from "./page_logic.ts";

function byId<T extends HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page is missing #${id}`);
  return el as T;
}

const ui = {
  runtime: byId<HTMLParagraphElement>("runtime"),
  modelDrop: byId<HTMLLabelElement>("model-drop"),
  modelFiles: byId<HTMLInputElement>("model-files"),
  modelStatus: byId<HTMLParagraphElement>("model-status"),
  summary: byId<HTMLDivElement>("summary"),
  meta: byId<HTMLDListElement>("model-meta"),
  summaryRows: byId<HTMLTableSectionElement>("summary-rows"),
  totalParams: byId<HTMLTableCellElement>("total-params"),
  inputSection: byId<HTMLElement>("input-section"),
  inputShape: byId<HTMLElement>("input-shape"),
  textInput: byId<HTMLDivElement>("text-input"),
  text: byId<HTMLTextAreaElement>("text"),
  tokenizerStatus: byId<HTMLParagraphElement>("tokenizer-status"),
  idsInput: byId<HTMLDivElement>("ids-input"),
  ids: byId<HTMLInputElement>("ids"),
  randomIds: byId<HTMLButtonElement>("random-ids"),
  tokenizerFile: byId<HTMLInputElement>("tokenizer-file"),
  imageInput: byId<HTMLDivElement>("image-input"),
  imageFile: byId<HTMLInputElement>("image-file"),
  imagePreview: byId<HTMLCanvasElement>("image-preview"),
  pixelScale: byId<HTMLSelectElement>("pixel-scale"),
  numbersInput: byId<HTMLDivElement>("numbers-input"),
  numbers: byId<HTMLTextAreaElement>("numbers"),
  numbersCount: byId<HTMLElement>("numbers-count"),
  labels: byId<HTMLInputElement>("labels"),
  predict: byId<HTMLButtonElement>("predict"),
  outputSection: byId<HTMLElement>("output-section"),
  topClass: byId<HTMLParagraphElement>("top-class"),
  probs: byId<HTMLOListElement>("probs"),
  predictTime: byId<HTMLParagraphElement>("predict-time"),
};

interface PageState {
  model: Model | null;
  layers: LayerInfo[];
  kind: InputKind;
  inputDims: Dims;
  tokenizer: TextVectorization | null;
  image: Float32Array | null;
}

const state: PageState = {
  model: null,
  layers: [],
  kind: "numbers",
  inputDims: [],
  tokenizer: null,
  image: null,
};

type PageStatus = "idle" | "loading" | "ready" | "predicted" | "error";

function setStatus(status: PageStatus): void {
  document.body.dataset.state = status;
}

function showMessage(el: HTMLElement, text: string, isError = false): void {
  el.textContent = text;
  el.classList.toggle("error", isError);
}

function describeError(e: unknown): string {
  if (e instanceof WasmUnavailableError) {
    return `WebAssembly SIMD is unavailable: ${e.message}`;
  }
  if (e instanceof Error) return `${e.name}: ${e.message}`;
  return String(e);
}

function checkRuntime(): boolean {
  if (!wasmSimdSupported()) {
    ui.runtime.className = "runtime bad";
    ui.runtime.textContent = "This browser cannot run WebAssembly SIMD, which the scratchnet " +
      "engine's kernels need. Use a current Chrome, Edge, Firefox (89+) or Safari (16.4+), " +
      "or enable WebAssembly SIMD in the browser's settings.";
    ui.modelFiles.disabled = true;
    return false;
  }
  ui.runtime.className = "runtime ok";
  ui.runtime.textContent = "WebAssembly SIMD available: models run in this tab, offline too.";
  return true;
}

function layerInfos(model: Model): LayerInfo[] {
  return model.layers.map((l) => ({
    className: l.className,
    config: l.config,
    outputShape: l.outputShape,
    dtype: (l as unknown as { dtype?: string }).dtype,
  }));
}

function renderSummary(model: Model, meta: importer.ImportMeta): void {
  ui.meta.replaceChildren();
  const facts: [string, string][] = [
    ["Model", `${model.name} (${model.className})`],
    ["File", `${meta.sourceName} · ${meta.format}`],
    ["Keras", meta.kerasVersion ?? "not recorded"],
  ];
  for (const [term, value] of facts) {
    const dt = document.createElement("dt");
    dt.textContent = term;
    const dd = document.createElement("dd");
    dd.textContent = value;
    ui.meta.append(dt, dd);
  }
  ui.summaryRows.replaceChildren();
  for (const layer of model.layers) {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    name.innerHTML = "<code></code> ";
    name.firstElementChild!.textContent = layer.name;
    name.append(`(${layer.className})`);
    const shape = document.createElement("td");
    shape.textContent = formatDims(layer.outputShape);
    const params = document.createElement("td");
    params.className = "num";
    params.textContent = layer.countParams().toLocaleString("en-US");
    tr.append(name, shape, params);
    ui.summaryRows.append(tr);
  }
  ui.totalParams.textContent = model.countParams().toLocaleString("en-US");
  ui.summary.hidden = false;
}

function showInputPanel(): void {
  const { kind, inputDims } = state;
  ui.inputShape.textContent = formatDims(inputDims);
  ui.idsInput.hidden = kind !== "ids";
  ui.textInput.hidden = kind !== "ids" || state.tokenizer === null;
  ui.imageInput.hidden = kind !== "image";
  ui.numbersInput.hidden = kind !== "numbers";
  if (kind === "numbers") {
    const known = inputDims.reduce<number>((n, d) => n * (d ?? 1), 1);
    ui.numbersCount.textContent = inputDims.includes(null)
      ? `(a multiple of ${known})`
      : `(${known} numbers)`;
  }
  if (kind === "image") {
    ui.imagePreview.width = inputDims[1] ?? 1;
    ui.imagePreview.height = inputDims[0] ?? 1;
  }
  ui.inputSection.hidden = false;
}

function useTokenizer(tokenizer: TextVectorization | null, source: string): void {
  state.tokenizer = tokenizer;
  if (tokenizer) {
    showMessage(
      ui.tokenizerStatus,
      `Tokenizer: ${tokenizer.name} from ${source}, ${tokenizer.vocabularySize()} tokens.`,
    );
  }
  showInputPanel();
}

async function loadModelFiles(files: File[]): Promise<void> {
  setStatus("loading");
  ui.outputSection.hidden = true;
  showMessage(ui.modelStatus, `Reading ${files.map((f) => f.name).join(", ")}…`);
  try {
    const picked = pickModelFiles(files);
    let source: importer.ModelSource = picked.main;
    if (picked.format === "tfjs") {
      const modelJson = JSON.parse(await picked.main.text());
      const shards = orderShards(modelJson, picked.shards);
      source = {
        modelJson,
        shards: await Promise.all(shards.map(async (f) => new Uint8Array(await f.arrayBuffer()))),
      };
    }
    const started = performance.now();
    const loaded = await importer.loadModel(source, { name: picked.main.name });
    const ms = performance.now() - started;
    if (loaded.model === null) {
      // A file holding only preprocessing (e.g. a saved TextVectorization) is a tokenizer.
      if (loaded.preprocessing.length > 0 && state.model) {
        const p = loaded.preprocessing[0];
        useTokenizer(TextVectorization.fromConfig(p.config, p.vocabulary), picked.main.name);
        showMessage(ui.modelStatus, `${picked.main.name} holds a tokenizer only: now in use.`);
        setStatus("ready");
        return;
      }
      throw new PageInputError(`${picked.main.name} holds no runnable layers`);
    }
    state.model?.dispose();
    state.model = loaded.model;
    state.layers = layerInfos(loaded.model);
    state.kind = inputKindOf(state.layers);
    state.inputDims = loaded.model.inputShape;
    state.image = null;
    const p = loaded.preprocessing[0];
    state.tokenizer = p ? TextVectorization.fromConfig(p.config, p.vocabulary) : null;
    renderSummary(loaded.model, loaded.meta);
    showInputPanel();
    if (p) useTokenizer(state.tokenizer, "the model");
    showMessage(ui.modelStatus, `Loaded ${picked.main.name} in ${ms.toFixed(0)} ms.`);
    setStatus("ready");
  } catch (e) {
    showMessage(ui.modelStatus, describeError(e), true);
    setStatus("error");
  }
}

async function loadTokenizerFile(file: File): Promise<void> {
  try {
    let tokenizer: TextVectorization;
    if (file.name.toLowerCase().endsWith(".txt")) {
      tokenizer = TextVectorization.fromVocabularyText(await file.text(), {
        outputSequenceLength: state.inputDims[0] ?? null,
      });
    } else {
      const loaded = await importer.loadModel(file, { name: file.name });
      const p = loaded.preprocessing[0];
      if (!p) throw new PageInputError(`${file.name} holds no TextVectorization layer`);
      tokenizer = TextVectorization.fromConfig(p.config, p.vocabulary);
    }
    useTokenizer(tokenizer, file.name);
  } catch (e) {
    showMessage(ui.tokenizerStatus, describeError(e), true);
  }
}

async function loadImage(file: File): Promise<void> {
  const [height, width, channels] = state.inputDims as number[];
  const bitmap = await createImageBitmap(file);
  const ctx = ui.imagePreview.getContext("2d", { willReadFrequently: true })!;
  ctx.drawImage(bitmap, 0, 0, width, height);
  bitmap.close();
  const { data } = ctx.getImageData(0, 0, width, height);
  state.image = pixelsToSample(data, width, height, channels, 1);
}

/** The batch-of-one input tensor for what the user entered. */
function buildInput(): Tensor {
  const dims = state.inputDims;
  if (state.kind === "ids") {
    const length = dims[0] ?? null;
    if (ui.text.value.trim() !== "" && state.tokenizer) {
      const { data } = state.tokenizer.call([ui.text.value]);
      const ids = fitSequence(data, length);
      ui.ids.value = Array.from(ids).join(" ");
      return new Tensor(ids, [1, ids.length]);
    }
    const ids = fitSequence(parseIds(ui.ids.value, vocabularySizeOf(state.layers)), length);
    return new Tensor(ids, [1, ids.length]);
  }
  if (state.kind === "image") {
    if (!state.image) throw new PageInputError("drop an image first");
    const divisor = Number(ui.pixelScale.value);
    const scaled = state.image.map((v) => v / divisor);
    return new Tensor(scaled, [1, ...(dims as number[])]);
  }
  const values = parseNumbers(ui.numbers.value);
  return new Tensor(Float32Array.from(values), [1, ...sampleShape(dims, values.length)]);
}

function renderPrediction(input: Tensor, output: Tensor, ms: number): void {
  const row = output.data.subarray(0, output.shape.slice(1).reduce((a, b) => a * b, 1));
  const scores = classScores(row);
  const labels = classLabels(ui.labels.value, scores.probabilities.length);
  // The exact numbers, for tests comparing the page with the Deno engine.
  ui.probs.dataset.input = JSON.stringify(Array.from(input.data));
  ui.probs.dataset.output = JSON.stringify(Array.from(row));
  ui.probs.replaceChildren();
  scores.probabilities.forEach((p, i) => {
    const li = document.createElement("li");
    if (i === scores.best) li.className = "best";
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = labels[i];
    const track = document.createElement("span");
    track.className = "track";
    const fill = document.createElement("span");
    fill.className = "fill";
    fill.style.width = `${(p * 100).toFixed(2)}%`;
    track.append(fill);
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = `${(p * 100).toFixed(2)} %`;
    li.append(label, track, value);
    ui.probs.append(li);
  });
  ui.topClass.innerHTML = "Prediction: <strong></strong>";
  ui.topClass.querySelector("strong")!.textContent = labels[scores.best];
  const note = scores.reading === "probabilities" ? "" : ` · bars show the ${scores.reading}`;
  ui.predictTime.textContent = `output ${formatDims(output.shape.slice(1))} in ` +
    `${ms.toFixed(1)} ms${note}`;
  ui.outputSection.hidden = false;
}

function predict(): void {
  if (!state.model) return;
  try {
    const x = buildInput();
    const started = performance.now();
    const y = state.model.predict(x);
    renderPrediction(x, y, performance.now() - started);
    setStatus("predicted");
  } catch (e) {
    ui.outputSection.hidden = false;
    ui.probs.replaceChildren();
    delete ui.probs.dataset.output;
    delete ui.probs.dataset.input;
    showMessage(ui.topClass, describeError(e), true);
    ui.predictTime.textContent = "";
    setStatus("error");
  }
}

function randomIds(): void {
  const vocab = vocabularySizeOf(state.layers) ?? 100;
  const length = state.inputDims[0] ?? 10;
  const used = Math.max(1, Math.ceil(length * 0.6));
  const ids = Array.from({ length: used }, () => 1 + Math.floor(Math.random() * (vocab - 1)));
  ui.ids.value = ids.join(" ");
  ui.text.value = "";
}

function wireDrop(zone: HTMLElement, onFiles: (files: File[]) => void): void {
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const files = [...(e.dataTransfer?.files ?? [])];
    if (files.length > 0) onFiles(files);
  });
}

function main(): void {
  setStatus("idle");
  const simd = checkRuntime();
  if ("serviceWorker" in navigator && location.protocol !== "file:") {
    navigator.serviceWorker.register("./sw.js").catch((e) => {
      console.warn("service worker not registered (no offline use):", e);
    });
  }
  if (!simd) return;
  ui.modelFiles.addEventListener("change", () => {
    const files = [...(ui.modelFiles.files ?? [])];
    if (files.length > 0) loadModelFiles(files);
    ui.modelFiles.value = "";
  });
  wireDrop(ui.modelDrop, (files) => loadModelFiles(files));
  ui.tokenizerFile.addEventListener("change", () => {
    const file = ui.tokenizerFile.files?.[0];
    if (file) loadTokenizerFile(file);
    ui.tokenizerFile.value = "";
  });
  ui.imageFile.addEventListener("change", async () => {
    const file = ui.imageFile.files?.[0];
    if (!file) return;
    try {
      await loadImage(file);
      predict();
    } catch (e) {
      showMessage(ui.topClass, describeError(e), true);
      ui.outputSection.hidden = false;
    }
    ui.imageFile.value = "";
  });
  wireDrop(byId("image-input"), async (files) => {
    await loadImage(files[0]);
    predict();
  });
  ui.randomIds.addEventListener("click", randomIds);
  ui.predict.addEventListener("click", predict);
  ui.text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && !e.shiftKey) {
      e.preventDefault();
      predict();
    }
  });
}

main();
