/**
 * Embedding in training: the ids carry no gradient; the table's gradient is the output gradient's
 * rows scatter-added into the rows of the ids looked up (`embeddingGrad`). The gradient buffer is
 * dense (input_dim × output_dim) and zero in the rows of ids not in the batch, so a dense
 * optimizer step behaves as in Keras / TF.js with a dense gradient: Adam still decays both
 * moments of every row, and rows with non-zero momentum keep moving.
 */
import type { Embedding } from "../../layers/embedding.ts";
import { sizeOf } from "../../tensor.ts";
import { registerTraining } from "./registry.ts";

registerTraining<Embedding>("Embedding", {
  backward(layer, a) {
    const grad = a.grads[0];
    if (grad) {
      a.ctx.kernels.embeddingGrad(
        a.x.ptr,
        a.x.dtype === "int32" ? 1 : 0,
        a.dy.ptr,
        grad,
        sizeOf(a.x.shape),
        layer.inputDim,
        layer.outputDim,
        1,
      );
    }
    return null;
  },
});
