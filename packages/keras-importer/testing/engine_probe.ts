/**
 * Whether the engine runs Functional graphs yet (the graph executor is being built alongside
 * the importer): tests that run graphs are `ignore`d — reported as ignored, never passed —
 * while it does not.
 *
 * @module
 */
import { buildModel, Tensor } from "@scratchnet/engine";

/** The engine's graph API (present once the graph executor lands). */
export interface GraphModel {
  predictMany(xs: Tensor[], options?: { batchSize?: number; outputs?: string[] }): Tensor[];
  inputNames: string[];
  outputNames: string[];
  dispose(): void;
}

/**
 * Whether the engine builds and runs Functional graphs: a model with one input feeding two
 * Dense outputs must build and return two tensors from `predictMany`.
 */
function probeEngineGraphs(): boolean {
  const dense = (name: string) => ({
    class_name: "Dense",
    config: { name, units: 1, activation: "linear", use_bias: true },
    name,
    inbound_nodes: [[["x", 0, 0, {}]]],
  });
  try {
    const model = buildModel({
      config: {
        class_name: "Model",
        config: {
          name: "probe",
          layers: [
            {
              class_name: "InputLayer",
              config: { name: "x", batch_input_shape: [null, 2], dtype: "float32" },
              name: "x",
              inbound_nodes: [],
            },
            dense("a"),
            dense("b"),
          ],
          input_layers: [["x", 0, 0]],
          output_layers: [["a", 0, 0], ["b", 0, 0]],
        },
      },
      weights: Object.fromEntries(["a", "b"].map((k) => [k, [
        { name: "kernel", shape: [2, 1], data: new Float32Array([1, 2]) },
        { name: "bias", shape: [1], data: new Float32Array([k === "a" ? 0 : 1]) },
      ]])),
    }) as unknown as Partial<GraphModel> & { dispose(): void };
    try {
      if (typeof model.predictMany !== "function") return false;
      const ys = model.predictMany([new Tensor(new Float32Array([1, 1]), [1, 2])]);
      return ys.length === 2 && ys[0].data[0] === 3 && ys[1].data[0] === 4;
    } finally {
      model.dispose();
    }
  } catch {
    return false;
  }
}

/** Whether the engine's graph executor is present (else the end-to-end tests are ignored). */
export const engineSupportsGraphs: boolean = probeEngineGraphs();
