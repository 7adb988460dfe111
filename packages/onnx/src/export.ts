/**
 * `exportOnnx`: an engine model as an ONNX model. Walks the model's graph of layer calls (nodes in
 * execution order), asks each layer's class for its ONNX nodes (`LayerClass.onnx`, through the
 * context implemented here) and serialises the result (`model_proto.ts`).
 *
 * The ONNX model has the engine model's inputs and outputs, named as Keras names them, with the
 * batch as a free dimension and the Keras (channels-last) layout; ids that only feed Embeddings
 * are int32 inputs, everything else float32.
 *
 * @module
 */
import {
  type DeviceTensor,
  innerContext,
  type Layer,
  LAYER_CLASSES,
  type Model,
  type OnnxAttribute,
  type OnnxElementType,
  OnnxExportError,
  onnxHookFor,
  type OnnxLayerContext,
  type OnnxTensorData,
  type Shape,
} from "@scratchnet/engine";
import {
  encodeModel,
  type GraphNodeRecord,
  type GraphRecord,
  type InitializerRecord,
} from "./model_proto.ts";

/** Options of {@link exportOnnx}. */
export interface OnnxExportOptions {
  /** ONNX opset to write (default {@link DEFAULT_OPSET}; {@link MIN_OPSET}–{@link MAX_OPSET}). */
  opset?: number;
}

/** The opset written by default (ONNX Runtime 1.14 and later run it). */
export const DEFAULT_OPSET = 17;
/** Lowest opset the layer hooks write correctly (HardSwish, axes-as-inputs Unsqueeze, …). */
export const MIN_OPSET = 14;
/** Highest opset the export writes. */
export const MAX_OPSET = 21;

/** Version string written as the ModelProto's producer version. */
const PRODUCER_VERSION = "0.1.0";

/** A fake device tensor for asking a layer how it passes masks on (it reads no memory). */
function placeholder(shape: Shape, id: number): DeviceTensor {
  return { ptr: -1 - id, shape: [1, ...shape.map((d) => d ?? 1)], dtype: "int32" };
}

/**
 * The mask a call passes on when its hook declared none: the engine's `computeMasks` says whether
 * the layer passes an input's mask on (it only compares tensors here; a layer that builds a new
 * mask declares it in its hook).
 */
function passedMask(
  layer: Layer,
  ids: readonly number[],
  masks: readonly (string | null)[],
  shapes: readonly Shape[],
  refuse: (reason: string) => never,
): string | null {
  if (!ids.some((i) => masks[i])) return null;
  const xs = ids.map((i, k) => placeholder(shapes[i], 2 * k));
  const ms = ids.map((i, k) => (masks[i] ? placeholder(shapes[i], 2 * k + 1) : null));
  let result: DeviceTensor | null;
  try {
    result = layer.computeMasks(xs, ms);
  } catch {
    return refuse("its output mask cannot be exported");
  }
  if (result === null) return null;
  const k = ms.indexOf(result);
  return k >= 0 ? masks[ids[k]] : refuse("its output mask cannot be exported");
}

/**
 * Writes `model` as ONNX ModelProto bytes. Throws {@link OnnxExportError} naming the first layer
 * (and its class) that has no ONNX form, and `RangeError` for an opset out of range.
 */
export function exportOnnx(model: Model, options: OnnxExportOptions = {}): Uint8Array {
  return encodeModel(collectGraph(model, options));
}

/** The exported graph before serialisation (for tests and tools that inspect it). */
export function collectGraph(model: Model, options: OnnxExportOptions = {}): GraphRecord {
  const opset = options.opset ?? DEFAULT_OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new RangeError(
      `opset: expected an integer in [${MIN_OPSET}, ${MAX_OPSET}], got ${JSON.stringify(opset)}`,
    );
  }
  const graph = model.graph;
  const nodes: GraphNodeRecord[] = [];
  const initializers: InitializerRecord[] = [];
  const used = new Set<string>();
  const unique = (base: string) => {
    let name = base, k = 1;
    while (used.has(name)) name = `${base}_${k++}`;
    used.add(name);
    return name;
  };
  const names: string[] = new Array(graph.nodes.length);
  const shapes: Shape[] = new Array(graph.nodes.length);
  const types: OnnxElementType[] = new Array(graph.nodes.length);
  const masks: (string | null)[] = new Array(graph.nodes.length).fill(null);

  const inputs = graph.inputs.map((id, i) => {
    const name = unique(model.inputNames[i]);
    names[id] = name;
    shapes[id] = model.inputShapes[i];
    // As the engine casts: ids that only feed Embeddings stay integers.
    const readers = graph.nodes.filter((n) => n.inputs.includes(id));
    types[id] = readers.length > 0 && readers.every((n) => n.layer.readsIds) ? "int32" : "float32";
    return {
      name,
      type: types[id],
      dims: ["batch", ...shapes[id].map((d, j) => d ?? `${name}_${j + 1}`)],
    };
  });

  // A model output is named after Keras's output name; its first producing call writes it.
  const outputName = new Map<number, string>();
  graph.outputs.forEach((id, k) => {
    if (outputName.has(id) || graph.nodes[id].inputIndex >= 0) return;
    // Keras names a call's every output after the layer: the further ones get a suffix.
    let name = model.outputNames[k];
    for (let j = 1; [...outputName.values()].includes(name); j++) {
      name = `${model.outputNames[k]}_${j}`;
    }
    outputName.set(id, name);
  });
  const reserved = new Set(outputName.values());
  for (const name of reserved) used.add(name);
  const calls = new Map<object, number>();
  // A shared layer's calls hand over the same weight arrays: one initializer each.
  const written = new WeakMap<object, Map<string, string>>();

  for (const node of graph.nodes) {
    if (node.inputIndex >= 0) continue;
    const layer = node.layer;
    const path = model.layerPath(layer);
    // A call's further outputs (an RNN's states) were written with the call.
    if (node.outputIndex > 0) continue;
    const hook = onnxHookFor(layer);
    if (!hook) {
      throw new OnnxExportError(layer.name, layer.className, "the class has no ONNX form yet");
    }
    const call = calls.get(layer) ?? 0;
    calls.set(layer, call + 1);
    const prefix = call ? `${path}_call${call}` : path;
    const inputShapes = node.inputs.map((i) => shapes[i]);
    const outputShapes = layer.computeOutputShapeList(inputShapes);
    const outputShape = outputShapes[0];
    const output = outputName.get(node.id) ?? unique(prefix);
    const extras = node.extraOutputs.map((id, k) =>
      outputName.get(id) ?? unique(`${prefix}_${k + 1}`)
    );
    let outputMask: string | null | undefined;
    const refuse = (reason: string): never => {
      throw new OnnxExportError(layer.name, layer.className, reason);
    };
    const ctx: OnnxLayerContext = {
      opset,
      inputs: node.inputs.map((i) => names[i]),
      inputShapes,
      inputTypes: node.inputs.map((i) => types[i]),
      inputMasks: node.inputs.map((i) => masks[i]),
      output,
      outputShape,
      outputs: [output, ...extras],
      outputShapes,
      node(opType, ins, outs, attributes: Readonly<Record<string, OnnxAttribute>> = {}) {
        nodes.push({
          opType,
          name: unique(`${prefix}/${opType}`),
          inputs: ins,
          outputs: outs,
          attributes,
        });
      },
      initializer(hint: string, data: OnnxTensorData, dims: readonly number[]) {
        const array = "float32" in data ? data.float32 : "int32" in data ? data.int32 : null;
        const key = dims.join(",");
        const seen = array ? written.get(array)?.get(key) : undefined;
        if (seen) return seen;
        const name = unique(`${prefix}/${hint}`);
        initializers.push({ name, data, dims });
        if (array) {
          if (!written.has(array)) written.set(array, new Map());
          written.get(array)!.set(key, name);
        }
        return name;
      },
      int64s(hint: string, values: readonly number[]) {
        return this.initializer(hint, { int64: values }, [values.length]);
      },
      fresh: (hint: string) => unique(`${prefix}/${hint}`),
      setOutputMask(name: string | null) {
        outputMask = name;
      },
      refuse,
      emitLayer(inner, call) {
        const innerHook = onnxHookFor(inner);
        if (!innerHook) {
          throw new OnnxExportError(inner.name, inner.className, "the class has no ONNX form yet");
        }
        innerHook(innerContext(this, call));
      },
    };
    hook(ctx);
    names[node.id] = output;
    shapes[node.id] = outputShape;
    types[node.id] = "float32";
    node.extraOutputs.forEach((id, k) => {
      names[id] = extras[k];
      shapes[id] = outputShapes[k + 1];
      types[id] = "float32";
    });
    masks[node.id] = outputMask !== undefined
      ? outputMask
      : passedMask(layer, node.inputs, masks, shapes, refuse);
  }

  const listed = new Set<string>();
  const outputs = graph.outputs.map((id, k) => {
    const want = outputName.get(id) ?? model.outputNames[k];
    let name = names[id];
    if (name !== want || listed.has(name)) {
      // An input returned as an output, or a tensor returned twice: an Identity names it.
      name = unique(want);
      nodes.push({
        opType: "Identity",
        name: unique(`${want}/Identity`),
        inputs: [names[id]],
        outputs: [name],
        attributes: {},
      });
    }
    listed.add(name);
    return {
      name,
      type: types[id],
      dims: ["batch", ...shapes[id].map((d, j) => d ?? `${name}_${j + 1}`)],
    };
  });
  return {
    name: model.name,
    opset,
    producerVersion: PRODUCER_VERSION,
    nodes,
    initializers,
    inputs,
    outputs,
  };
}

/** The engine's layer classes that have an ONNX form (their definitions carry an `onnx` hook). */
export function exportableLayerClasses(): string[] {
  return LAYER_CLASSES.filter((def) => def.onnx).map((def) => def.className);
}
