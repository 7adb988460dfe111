/**
 * Registers the training behaviour of every layer class the trainer supports (one file per
 * family). Add a new layer's backward by creating its file and importing it here.
 */
import "./activation.ts";
import "./dropout.ts";
import "./reshape.ts";
import "./conv2d.ts";
import "./pooling2d.ts";
import "./global_pooling2d.ts";
import "./batch_normalization.ts";
import "./embedding.ts";
import "./recurrent.ts";
import "./bidirectional.ts";
import "./merge.ts";

export {
  type BackwardArgs,
  type LayerTraining,
  paramOwners,
  registerTraining,
  reshaped,
  trainableLayerClasses,
  type TrainContext,
  trainingFor,
} from "./registry.ts";
