/**
 * A Keras model config as a graph of layer calls (Keras `Functional` / `Sequential`, both Keras 3
 * and Keras 2 / TF.js node formats), with nested models inlined.
 *
 * Every layer of the config (nested models' layers included) becomes one engine {@link Layer},
 * and every call of a layer becomes one {@link GraphNode} producing one tensor; a call returning
 * several tensors (an RNN's `return_state`) has one further node per extra output, which reads
 * the call's node and holds what the call returned at that index. A layer called
 * several times (a shared layer, or the layers of a nested model called twice) has several nodes
 * and one set of weights. A nested model is not a node of its own: its calls are expanded into
 * its layers' nodes, so one executor runs every model, however deeply nested. The node list is
 * in a topological order (each node after the nodes it reads).
 */
import { ModelConfigError } from "./errors.ts";
import type { Layer, LayerBuildOptions } from "./layer.ts";
import { InputLayer } from "./layers/input_layer.ts";
import { createOpLayer, isOperationEntry } from "./ops/mod.ts";
import { createLayer } from "./registry.ts";
import { isRecord, type KerasObject } from "./spec.ts";

/** Keras model classes whose config is a graph of layers. */
export const MODEL_CLASSES: ReadonlySet<string> = new Set(["Sequential", "Functional", "Model"]);

/** One call of a layer: its inputs and what it produces. */
export interface GraphNode {
  /** Index in {@link Graph.nodes}; also the id of the tensor the node produces. */
  readonly id: number;
  readonly layer: Layer;
  /** Ids of the tensors (nodes) the call reads, in call order. */
  readonly inputs: readonly number[];
  /**
   * The call's `training` argument when it was `false` (e.g. `base(x, training=False)`, also
   * inherited from a nested model's call): the layer runs in inference mode even inside `fit`.
   */
  readonly inferenceOnly: boolean;
  /** For the model's input nodes: which input (`-1` for every other node). */
  readonly inputIndex: number;
  /**
   * 0 for a layer call. k ≥ 1: the node is the k-th output of the call `inputs[0]` (a layer
   * returning several tensors), produced when that call runs; it calls nothing itself.
   */
  readonly outputIndex: number;
  /** A layer call's nodes of outputs 1, 2, … (empty for single-output calls). */
  readonly extraOutputs: readonly number[];
}

/** One layer of the graph with where it sits. */
export interface GraphLayer {
  readonly layer: Layer;
  /** The layer's key in weights and names: its name, under its nested models' (`base/conv1`). */
  readonly path: string;
  /** Paths of the nested models containing it, outermost first (for `trainable` of a model). */
  readonly models: readonly string[];
}

/** A nested model met in the config (for freezing a whole base model). */
export interface GraphModel {
  readonly path: string;
  readonly className: string;
  /** The model's own config object (its `trainable` flag is kept up to date for saving). */
  readonly config: Record<string, unknown>;
}

/** A model config as a graph. */
export interface Graph {
  /** Every call of a layer, topologically ordered. */
  readonly nodes: GraphNode[];
  /** Node ids of the model's inputs (its InputLayers), in `input_layers` order. */
  readonly inputs: number[];
  /** Node ids of the model's outputs, in `output_layers` order. */
  readonly outputs: number[];
  /** Every layer once, in order of first call (nested models' layers under their paths). */
  readonly layers: GraphLayer[];
  /** Every nested model once. */
  readonly models: GraphModel[];
  /**
   * True for a Sequential config that declares no input shape anywhere (Keras builds such a
   * model on its first call): the graph is empty until built again with `inputBatchShape`.
   */
  readonly needsInputShape: boolean;
}

interface Ref {
  layer: string;
  node: number;
  index: number;
}

interface CallSpec {
  refs: Ref[];
  /**
   * Keras 3 nodes: how the call passed each tensor of `refs` (`"0"`, `"1"`, … for positional
   * arguments, the keyword otherwise); null for Keras 2 / TF.js nodes.
   */
  argNames: string[] | null;
  /** Keras 3 nodes: the call's keyword arguments as the file has them (`{}` otherwise). */
  kwargs: Record<string, unknown>;
  inferenceOnly: boolean;
  /** The inbound node as the file has it (an operation's constant arguments live there). */
  node: unknown;
}

interface Entry {
  className: string;
  name: string;
  config: Record<string, unknown>;
  calls: CallSpec[];
  /** Operation nodes (`ops/`): one weightless layer per call, aligned with `calls`. */
  ops?: Layer[];
}

/** A parsed model config; its layers are created once however often the model is called. */
interface ModelDef {
  className: string;
  name: string;
  path: string;
  config: Record<string, unknown>;
  entries: Entry[];
  members: Map<string, { layer?: Layer; model?: ModelDef; ops?: Layer[]; path: string }>;
  inputs: Ref[];
  outputs: Ref[];
  /** Whether the config uses Keras 3 node objects (`{args, kwargs}`). */
  keras3: boolean;
}

/** `[name, node, index]` triples: one triple or a list of them (Keras 3 writes both). */
function refList(v: unknown, where: string): Ref[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) {
    throw new ModelConfigError(`${where}: expected [layer, node, index] lists`);
  }
  const list = typeof v[0] === "string" ? [v] : v;
  return list.map((t) => {
    if (!Array.isArray(t) || typeof t[0] !== "string") {
      throw new ModelConfigError(
        `${where}: expected [layer, node, index], got ${JSON.stringify(t)}`,
      );
    }
    return { layer: t[0], node: Number(t[1] ?? 0), index: Number(t[2] ?? 0) };
  });
}

/** The tensors a Keras 3 node argument holds, in order (lists and nested lists of tensors). */
function kerasTensors(v: unknown, out: Ref[]): void {
  if (Array.isArray(v)) {
    for (const item of v) kerasTensors(item, out);
  } else if (isRecord(v)) {
    if (v.class_name === "__keras_tensor__") {
      const hist = (v.config as Record<string, unknown> | undefined)?.keras_history;
      if (Array.isArray(hist) && typeof hist[0] === "string") {
        out.push({ layer: hist[0], node: Number(hist[1] ?? 0), index: Number(hist[2] ?? 0) });
      }
      return;
    }
    for (const item of Object.values(v)) kerasTensors(item, out);
  }
}

/** The calls of a layer entry: Keras 3 `{args, kwargs}` nodes or Keras 2 lists of refs. */
function parseCalls(raw: Record<string, unknown>, name: string): CallSpec[] {
  const nodes = raw.inbound_nodes;
  if (nodes === undefined || nodes === null) return [];
  if (!Array.isArray(nodes)) {
    throw new ModelConfigError(`layer "${name}": inbound_nodes is not a list`);
  }
  return nodes.map((node, k) => {
    const refs: Ref[] = [];
    let argNames: string[] | null = null;
    let kwargs: Record<string, unknown> = {};
    let inferenceOnly = false;
    if (isRecord(node)) {
      // Keras 3: tensors in args; kwargs may hold more inputs, `training` and a `mask` (also
      // MultiHeadAttention's `query_mask` / `value_mask` / `key_mask`, which Keras fills from the
      // tensors' own masks: the engine carries those along the edges).
      argNames = [];
      const args = Array.isArray(node.args) ? node.args : [node.args];
      args.forEach((arg, i) => {
        const before = refs.length;
        kerasTensors(arg, refs);
        for (let j = before; j < refs.length; j++) argNames!.push(String(i));
      });
      kwargs = isRecord(node.kwargs) ? node.kwargs : {};
      for (const [key, value] of Object.entries(kwargs)) {
        if (key === "training") inferenceOnly = value === false;
        else if (!CALL_MASK_KWARGS.has(key)) {
          const before = refs.length;
          kerasTensors(value, refs);
          for (let j = before; j < refs.length; j++) argNames.push(key);
        }
      }
    } else if (Array.isArray(node)) {
      // A TFOpLambda called on one tensor keeps it unwrapped: `[layer, node, index, kwargs]`.
      for (const t of typeof node[0] === "string" ? [node] : node) {
        if (!Array.isArray(t) || typeof t[0] !== "string") {
          throw new ModelConfigError(
            `layer "${name}": inbound node ${k} holds ${JSON.stringify(t)}, expected ` +
              `[layer, node, index, kwargs]`,
          );
        }
        // `_CONSTANT_VALUE` stands for a constant first argument of a TFOpLambda.
        if (t[0] !== "_CONSTANT_VALUE") {
          refs.push({ layer: t[0], node: Number(t[1] ?? 0), index: Number(t[2] ?? 0) });
        }
        if (isRecord(t[3]) && t[3].training === false) inferenceOnly = true;
      }
    } else {
      throw new ModelConfigError(`layer "${name}": inbound node ${k} is not a list or object`);
    }
    return { refs, argNames, kwargs, inferenceOnly, node };
  });
}

/** Keyword arguments of a Keras 3 call that carry input masks, not inputs. */
const CALL_MASK_KWARGS: ReadonlySet<string> = new Set([
  "mask",
  "query_mask",
  "value_mask",
  "key_mask",
]);

/**
 * Builds the graph of a model config (creating every layer object). `inputBatchShape` is the
 * input shape of a Sequential that declares none (from the first data it is called on).
 */
export function buildGraph(
  config: KerasObject,
  options: LayerBuildOptions,
  inputBatchShape?: (number | null)[],
): Graph {
  const builder = new GraphBuilder(options);
  const def = builder.parse(config, "");
  builder.instantiateTop(def, inputBatchShape);
  return builder.result();
}

/** The input shape a Sequential without an InputLayer declares elsewhere (or undefined). */
function sequentialInputShape(def: ModelDef): unknown[] | undefined {
  const first = def.entries[0];
  const bs = first?.config.batch_input_shape ?? first?.config.batch_shape ??
    def.config.build_input_shape;
  if (Array.isArray(bs)) return bs;
  const nested = first && def.members.get(first.name)?.model;
  if (nested) {
    if (nested.className === "Sequential") return sequentialInputShape(nested);
    const inputName = nested.inputs[0]?.layer;
    const input = nested.entries.find((e) => e.name === inputName);
    const shape = input?.config.batch_shape ?? input?.config.batch_input_shape;
    if (Array.isArray(shape)) return shape;
  }
  return undefined;
}

class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly inputs: number[] = [];
  outputs: number[] = [];
  readonly layers: GraphLayer[] = [];
  readonly models: GraphModel[] = [];
  needsInputShape = false;
  readonly #seen = new Set<Layer>();
  readonly #options: LayerBuildOptions;

  constructor(options: LayerBuildOptions) {
    this.#options = options;
  }

  result(): Graph {
    return {
      nodes: this.nodes,
      inputs: this.inputs,
      outputs: this.outputs,
      layers: this.layers,
      models: this.models,
      needsInputShape: this.needsInputShape,
    };
  }

  /** Parses a model config and creates its layers (recursively for nested models). */
  parse(model: KerasObject, prefix: string, nameOverride?: string): ModelDef {
    const cfg = model.config as unknown;
    const inner = isRecord(cfg) ? cfg : {};
    const name = nameOverride ?? (typeof inner.name === "string" ? inner.name : "model");
    const list = Array.isArray(cfg) ? cfg : inner.layers;
    if (!Array.isArray(list)) {
      throw new ModelConfigError(`model "${name}": config.layers is not a list`);
    }
    const entries: Entry[] = list.map((raw, i) => {
      if (!isRecord(raw) || typeof raw.class_name !== "string") {
        throw new ModelConfigError(`model "${name}": layers[${i}] has no class_name`);
      }
      const config = isRecord(raw.config) ? raw.config : {};
      const layerName = String(config.name ?? raw.name ?? `${raw.class_name}_${i}`);
      // Tensor expressions (`x + y`, `ops.mean`, `x[:, 0]`): Keras 3 operation nodes (whose
      // class names can equal a layer's, `Add`, with other semantics) and TFOpLambda. Each call
      // becomes its own weightless layer reading the tensors its arguments name.
      if (isOperationEntry(raw as { class_name: string })) {
        if (model.class_name === "Sequential") {
          throw new ModelConfigError(
            `model "${name}": operation node "${layerName}" (${raw.class_name}) in a Sequential`,
          );
        }
        const calls = parseCalls(raw, layerName);
        const ops = calls.map((call) => {
          const op = createOpLayer(
            raw as { class_name: string },
            layerName,
            call.node,
            this.#options,
          );
          call.refs = op.inputs;
          return op.layer;
        });
        return { className: raw.class_name, name: layerName, config, calls, ops };
      }
      return {
        className: raw.class_name,
        name: layerName,
        config,
        calls: model.class_name === "Sequential" ? [] : parseCalls(raw, layerName),
      };
    });
    const def: ModelDef = {
      className: model.class_name,
      name,
      path: prefix,
      config: inner,
      entries,
      members: new Map(),
      inputs: refList(inner.input_layers, `model "${name}" input_layers`),
      outputs: refList(inner.output_layers, `model "${name}" output_layers`),
      keras3: list.some((raw) =>
        Array.isArray(raw?.inbound_nodes) &&
        raw.inbound_nodes.some((n: unknown) => isRecord(n))
      ),
    };
    for (const e of entries) {
      if (def.members.has(e.name)) {
        throw new ModelConfigError(`model "${name}": two layers are named "${e.name}"`);
      }
      const path = prefix ? `${prefix}/${e.name}` : e.name;
      if (e.ops) {
        def.members.set(e.name, { ops: e.ops, path });
        continue;
      }
      if (MODEL_CLASSES.has(e.className)) {
        const nested = this.parse({ class_name: e.className, config: e.config }, path, e.name);
        this.models.push({ path, className: e.className, config: e.config });
        def.members.set(e.name, { model: nested, path });
        continue;
      }
      def.members.set(e.name, {
        layer: createLayer(
          { class_name: e.className, config: { ...e.config, name: e.name } },
          this.#options,
          path,
        ),
        path,
      });
    }
    if (model.class_name !== "Sequential") {
      // Configs written by hand may leave out input_layers / output_layers: take the
      // InputLayers, and the last call of each layer no other layer reads, in config order.
      if (def.inputs.length === 0) {
        def.inputs = entries.filter((e) => e.className === "InputLayer")
          .map((e) => ({ layer: e.name, node: 0, index: 0 }));
      }
      if (def.outputs.length === 0) {
        const read = new Set(
          entries.flatMap((e) => e.calls.flatMap((c) => c.refs.map((r) => r.layer))),
        );
        def.outputs = entries.filter((e) => !read.has(e.name) && e.calls.length > 0)
          .map((e) => ({ layer: e.name, node: e.calls.length - 1, index: 0 }));
      }
      if (def.inputs.length === 0) throw new ModelConfigError(`model "${name}": no input layer`);
      if (def.outputs.length === 0) throw new ModelConfigError(`model "${name}": no output`);
    }
    return def;
  }

  /** Paths of the nested models enclosing `def`'s layers. */
  #modelPaths(def: ModelDef): string[] {
    const parts = def.path ? def.path.split("/") : [];
    return parts.map((_, i) => parts.slice(0, i + 1).join("/"));
  }

  #addNode(
    layer: Layer,
    path: string,
    models: string[],
    inputs: number[],
    inferenceOnly: boolean,
    inputIndex = -1,
  ): number {
    if (!this.#seen.has(layer)) {
      this.#seen.add(layer);
      this.layers.push({ layer, path, models });
    }
    const id = this.nodes.length;
    const extraOutputs: number[] = [];
    this.nodes.push({ id, layer, inputs, inferenceOnly, inputIndex, outputIndex: 0, extraOutputs });
    const count = inputIndex < 0 ? layer.outputCount : 1;
    for (let k = 1; k < count; k++) {
      const extra = this.nodes.length;
      extraOutputs.push(extra);
      this.nodes.push({
        id: extra,
        layer,
        inputs: [id],
        inferenceOnly,
        inputIndex: -1,
        outputIndex: k,
        extraOutputs: [],
      });
    }
    return id;
  }

  /** The top-level model: its InputLayers become the graph's inputs. */
  instantiateTop(def: ModelDef, inputBatchShape?: (number | null)[]): void {
    if (def.className === "Sequential") {
      let entries = def.entries;
      let input: Layer;
      let path: string;
      if (entries[0]?.className === "InputLayer") {
        const m = def.members.get(entries[0].name)!;
        input = m.layer!;
        path = m.path;
        entries = entries.slice(1);
      } else {
        const shape = sequentialInputShape(def) ?? inputBatchShape;
        if (!shape) {
          this.needsInputShape = true;
          return;
        }
        input = new InputLayer({
          name: `${def.name}_input`,
          batch_shape: shape,
          dtype: entries[0]?.config.dtype,
        }, this.#options);
        path = input.name;
      }
      const x = this.#addNode(input, path, [], [], false, 0);
      this.inputs.push(x);
      this.outputs = [this.#runSequential(def, entries, x, false)];
      return;
    }
    const sources = def.inputs.map((ref, i) => {
      const m = def.members.get(ref.layer);
      if (!m?.layer || !(m.layer instanceof InputLayer)) {
        throw new ModelConfigError(
          `model "${def.name}": input_layers[${i}] "${ref.layer}" is not an InputLayer`,
        );
      }
      const id = this.#addNode(m.layer, m.path, [], [], false, i);
      this.inputs.push(id);
      return id;
    });
    this.outputs = this.#runFunctional(def, sources, false);
  }

  #runSequential(def: ModelDef, entries: Entry[], x: number, inferenceOnly: boolean): number {
    const models = this.#modelPaths(def);
    for (const e of entries) {
      if (e.className === "InputLayer") continue;
      const m = def.members.get(e.name)!;
      if (m.model) x = this.#callModel(m.model, [x], inferenceOnly)[0];
      else {
        if (m.layer!.outputCount > 1) {
          throw new ModelConfigError(
            `Sequential "${def.name}": layer "${e.name}" returns ${m.layer!.outputCount} ` +
              "tensors (return_state / return_attention_scores); a Sequential passes one on",
          );
        }
        x = this.#addNode(m.layer!, m.path, models, [x], inferenceOnly);
      }
    }
    return x;
  }

  /** Expands one call of a nested model; returns the ids of its outputs. */
  #callModel(def: ModelDef, inputs: number[], inferenceOnly: boolean): number[] {
    if (def.className === "Sequential") {
      if (inputs.length !== 1) {
        throw new ModelConfigError(
          `Sequential "${def.path}" takes one input, called with ${inputs.length}`,
        );
      }
      return [this.#runSequential(def, def.entries, inputs[0], inferenceOnly)];
    }
    if (inputs.length !== def.inputs.length) {
      throw new ModelConfigError(
        `model "${def.path}" takes ${def.inputs.length} inputs, called with ${inputs.length}`,
      );
    }
    return this.#runFunctional(def, inputs, inferenceOnly);
  }

  /** Expands a Functional model's calls, given the tensors of its inputs. */
  #runFunctional(def: ModelDef, inputs: number[], inferenceOnly: boolean): number[] {
    // How files number a nested model's calls: Keras 2 and TF.js count its own build (input →
    // output) as its node 0, so the calls of the outer graph are 1, 2, …; Keras 3 counts them
    // from 0 in node arguments but from 1 in `output_layers` for a nested Functional. Offsets
    // are found from the references themselves (a reference past the last call is 1-based).
    const argOffset = new Map<string, number>();
    const outOffset = new Map<string, number>();
    const argRefs = def.entries.flatMap((e) => e.calls.flatMap((c) => c.refs));
    const detect = (refs: Ref[], name: string, calls: number) => {
      const top = Math.max(-1, ...refs.filter((r) => r.layer === name).map((r) => r.node));
      return top >= calls ? top - (calls - 1) : undefined;
    };
    for (const e of def.entries) {
      if (e.className === "InputLayer" || e.calls.length === 0) continue;
      const inArgs = detect(argRefs, e.name, e.calls.length);
      if (inArgs !== undefined) argOffset.set(e.name, inArgs);
      const keras3Functional = def.keras3 && e.className !== "Sequential" &&
        MODEL_CLASSES.has(e.className);
      const inOuts = keras3Functional ? 1 : inArgs ?? detect(def.outputs, e.name, e.calls.length);
      if (inOuts !== undefined) outOffset.set(e.name, inOuts);
    }
    const slot = (layer: string, node: number, index: number) =>
      `${layer}\u0000${node}\u0000${index}`;
    const key = (r: Ref, offsets = argOffset) =>
      slot(r.layer, r.node - (offsets.get(r.layer) ?? 0), r.index);
    const produced = new Map<string, number>();
    def.inputs.forEach((ref, i) => produced.set(slot(ref.layer, ref.node, 0), inputs[i]));
    const models = this.#modelPaths(def);
    const pending: { entry: Entry; k: number }[] = [];
    for (const entry of def.entries) {
      if (entry.className === "InputLayer") continue;
      entry.calls.forEach((_, k) => pending.push({ entry, k }));
    }
    // Keras configs list layers in an order where inputs come first, but Keras itself resolves
    // nodes as their inputs appear; do the same (a config order cannot break the build).
    while (pending.length) {
      let progressed = false;
      for (let p = 0; p < pending.length; p++) {
        const { entry, k } = pending[p];
        const call = entry.calls[k];
        const ids = call.refs.map((r) => produced.get(key(r)));
        if (ids.some((id) => id === undefined)) continue;
        const m = def.members.get(entry.name)!;
        const mode = inferenceOnly || call.inferenceOnly;
        if (m.model) {
          const outs = this.#callModel(m.model, ids as number[], mode);
          outs.forEach((id, i) => produced.set(slot(entry.name, k, i), id));
        } else {
          const layer = m.ops ? m.ops[k] : m.layer!;
          if (!m.ops) layer.bindCallArguments(call.argNames, call.kwargs);
          const id = this.#addNode(layer, m.path, models, ids as number[], mode);
          produced.set(slot(entry.name, k, 0), id);
          this.nodes[id].extraOutputs.forEach((extra, i) =>
            produced.set(slot(entry.name, k, i + 1), extra)
          );
        }
        pending.splice(p--, 1);
        progressed = true;
      }
      if (!progressed) {
        const { entry, k } = pending[0];
        const missing = entry.calls[k].refs.find((r) => !produced.has(key(r)))!;
        throw new ModelConfigError(
          `model "${def.name}": layer "${entry.name}" (call ${k}) reads ` +
            `${missing.layer}[${missing.node}][${missing.index}], which no layer produces`,
        );
      }
    }
    return def.outputs.map((ref, i) => {
      const id = produced.get(key(ref, outOffset));
      if (id === undefined) {
        throw new ModelConfigError(
          `model "${def.name}": output_layers[${i}] ${ref.layer}[${ref.node}][${ref.index}] ` +
            "is not produced by any layer",
        );
      }
      return id;
    });
  }
}
