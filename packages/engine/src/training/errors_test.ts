import {
  buildModel,
  type CallContext,
  type DeviceTensor,
  Layer,
  type Model,
  type Shape,
  Tensor,
  TrainingConfigError,
  TrainingDataError,
  TrainingGraph,
  UntrainableLayerError,
} from "../../mod.ts";
import { Loss } from "./losses.ts";
import type { Graph } from "../graph.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { InputShapeError } from "../errors.ts";
import { expectThrows } from "../../testing/assert.ts";

function model(): Model {
  const config = {
    class_name: "Sequential",
    config: {
      name: "m",
      layers: [
        { class_name: "InputLayer", config: { name: "in", batch_shape: [null, 3] } },
        { class_name: "Dense", config: { name: "out", units: 4, activation: "softmax" } },
      ],
    },
  };
  return buildModel({ config, weights: {} }, { initialize: { seed: 1 } });
}

async function expectRejects(
  p: () => Promise<unknown>,
  cls: new (...a: never[]) => Error,
  ...parts: string[]
) {
  let err: unknown;
  try {
    await p();
  } catch (e) {
    err = e;
  }
  expectThrows(
    () => {
      if (err) throw err;
    },
    cls,
    ...parts,
  );
}

Deno.test("training errors are typed and name the field, expectation and value", async () => {
  const m = model();
  const x = new Tensor(new Float32Array(6), [2, 3]);
  const y = new Tensor(new Float32Array([1, 3]), [2]);
  await expectRejects(() => m.fit(x, y), TrainingConfigError, "fit", "compiled");
  expectThrows(() => m.compile({ loss: "hinge" }), TrainingConfigError, "loss", "hinge");
  expectThrows(() => m.compile({ loss: "mse", metrics: ["f7"] }), TrainingConfigError, "f7");
  m.compile({ loss: "sparse_categorical_crossentropy", metrics: ["accuracy"] });
  expectThrows(
    () => m.trainOnBatch(x, new Tensor(new Float32Array([1, 4]), [2])),
    TrainingDataError,
    "[0, 4)",
    "4 at index 1",
  );
  expectThrows(
    () => m.trainOnBatch(x, new Tensor(new Float32Array([0.5, 1]), [2])),
    TrainingDataError,
    "0.5",
  );
  expectThrows(
    () => m.trainOnBatch(x, new Tensor(new Float32Array(3), [3])),
    TrainingDataError,
    "2 samples",
  );
  expectThrows(
    () => m.trainOnBatch(x, new Tensor(new Float32Array(4), [2, 2])),
    TrainingDataError,
    "2 values",
    "4 values",
  );
  expectThrows(() => m.trainOnBatch(x, y, new Float32Array(3)), TrainingDataError, "sampleWeight");
  expectThrows(
    () => m.trainOnBatch(new Tensor(new Float32Array(8), [2, 4]), y),
    InputShapeError,
    "(None, 3)",
  );
  await expectRejects(() => m.fit(x, y, { epochs: 0 }), TrainingConfigError, "epochs");
  await expectRejects(
    () => m.fit(x, y, { validationSplit: 1.2, verbose: 0 }),
    TrainingConfigError,
    "validationSplit",
  );
  m.dispose();
  expectThrows(() => m.evaluate(x, y), Error, "disposed");
});

class Mystery extends Layer {
  constructor() {
    super("Mystery", { name: "mystery" });
  }
  computeOutputShape(s: Shape): Shape {
    return s;
  }
  call(x: DeviceTensor, _m: DeviceTensor | null, _c: CallContext): DeviceTensor {
    return x;
  }
}

Deno.test("a layer class without a backward pass is refused by class and layer name", () => {
  const { kernels, heap } = getRuntime();
  expectThrows(
    () => {
      const layer = new Mystery();
      const graph: Graph = {
        nodes: [{
          id: 0,
          layer,
          inputs: [],
          inferenceOnly: false,
          inputIndex: 0,
          outputIndex: 0,
          extraOutputs: [],
        }],
        inputs: [0],
        outputs: [0],
        layers: [{ layer, path: "mystery", models: [] }],
        models: [],
        needsInputShape: false,
      };
      return new TrainingGraph(graph, [true], new Loss("mean_squared_error"), [], kernels, heap);
    },
    UntrainableLayerError,
    "Mystery",
    "mystery",
  );
});
