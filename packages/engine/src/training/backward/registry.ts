/** Transitional: the training types moved to `layer_training.ts`, the registry to `registry.ts`. */
export type { BackwardArgs, LayerTraining, TrainContext } from "../../layer_training.ts";
export { reshaped } from "../../layer_training.ts";
export {
  paramOwners,
  registerTraining,
  trainableLayerClasses,
  trainingFor,
} from "../../registry.ts";
