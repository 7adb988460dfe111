/**
 * Serialises an exported graph as an ONNX ModelProto with the `onnx-proto` package (ONNX's own
 * `onnx.proto`, compiled by protobufjs): the only module of the exporter that touches protobuf.
 *
 * @module
 */
import onnxProto from "onnx-proto";
import type { onnx as OnnxTypes } from "onnx-proto";
import type { OnnxAttribute, OnnxElementType, OnnxTensorData } from "@scratchnet/engine";

const { onnx } = onnxProto;

/** One node as the exporter collected it. */
export interface GraphNodeRecord {
  opType: string;
  name: string;
  inputs: readonly string[];
  outputs: readonly string[];
  attributes: Readonly<Record<string, OnnxAttribute>>;
}

/** One constant tensor. */
export interface InitializerRecord {
  name: string;
  data: OnnxTensorData;
  dims: readonly number[];
}

/** A graph input or output: name, element type and shape (null: a named free dimension). */
export interface ValueRecord {
  name: string;
  type: OnnxElementType;
  /** Full shape, batch first; strings name free dimensions. */
  dims: readonly (number | string)[];
}

/** Everything the ModelProto holds. */
export interface GraphRecord {
  name: string;
  opset: number;
  producerVersion: string;
  nodes: GraphNodeRecord[];
  initializers: InitializerRecord[];
  inputs: ValueRecord[];
  outputs: ValueRecord[];
}

const ELEMENT_TYPES: Readonly<Record<OnnxElementType, number>> = {
  float32: onnx.TensorProto.DataType.FLOAT,
  int32: onnx.TensorProto.DataType.INT32,
  int64: onnx.TensorProto.DataType.INT64,
  bool: onnx.TensorProto.DataType.BOOL,
};

/** The IR version a runtime needs for `opset` (ONNX's versioning table). */
function irVersion(opset: number): number {
  return opset >= 21 ? 10 : opset >= 19 ? 9 : 8;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength).slice();
}

function tensor(t: InitializerRecord): OnnxTypes.ITensorProto {
  const dims = [...t.dims];
  if ("float32" in t.data) {
    return {
      name: t.name,
      dims,
      dataType: ELEMENT_TYPES.float32,
      rawData: bytesOf(t.data.float32),
    };
  }
  if ("int32" in t.data) {
    return { name: t.name, dims, dataType: ELEMENT_TYPES.int32, rawData: bytesOf(t.data.int32) };
  }
  const values = BigInt64Array.from(t.data.int64, (v) => BigInt(v));
  return { name: t.name, dims, dataType: ELEMENT_TYPES.int64, rawData: bytesOf(values) };
}

function attribute(name: string, a: OnnxAttribute): OnnxTypes.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if ("int" in a) return { name, type: T.INT, i: a.int };
  if ("float" in a) return { name, type: T.FLOAT, f: a.float };
  if ("ints" in a) return { name, type: T.INTS, ints: [...a.ints] };
  if ("floats" in a) return { name, type: T.FLOATS, floats: [...a.floats] };
  if ("string" in a) return { name, type: T.STRING, s: new TextEncoder().encode(a.string) };
  return { name, type: T.STRINGS, strings: a.strings.map((s) => new TextEncoder().encode(s)) };
}

function valueInfo(v: ValueRecord): OnnxTypes.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: ELEMENT_TYPES[v.type],
        shape: {
          dim: v.dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/** The ModelProto bytes of `graph`. */
export function encodeModel(graph: GraphRecord): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: irVersion(graph.opset),
    opsetImport: [{ domain: "", version: graph.opset }],
    producerName: "scratchnet",
    producerVersion: graph.producerVersion,
    graph: {
      name: graph.name,
      node: graph.nodes.map((n) => ({
        opType: n.opType,
        name: n.name,
        input: [...n.inputs],
        output: [...n.outputs],
        attribute: Object.entries(n.attributes).map(([k, v]) => attribute(k, v)),
      })),
      initializer: graph.initializers.map(tensor),
      input: graph.inputs.map(valueInfo),
      output: graph.outputs.map(valueInfo),
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
