/** Layers that only relabel the shape (InputLayer, Flatten, Reshape): dx is dy with x's shape. */
import { registerTraining, reshaped } from "./registry.ts";

for (const cls of ["InputLayer", "Flatten", "Reshape"]) {
  registerTraining(cls, {
    backward: (_layer, a) => (a.needInputGrad ? reshaped(a.dy, a.x.shape) : null),
  });
}
