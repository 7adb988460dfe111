/**
 * The experiment's data hold one tensor per split (token ids for text); a Transformer also takes
 * each token's position as a second input (the standard Keras position embedding: an Embedding
 * over positions, `sequence_models.ts`). These helpers give a model every input it declares from
 * the token ids.
 */
import { type Model, Tensor } from "@scratchnet/engine";
import { POSITIONS_INPUT } from "./sequence_models.ts";

/**
 * The positions of token ids `ids` ([n, length]): `t + 1` at a real token, 0 at padding (id 0),
 * so the position Embedding's `mask_zero` mask is the padding mask.
 */
export function positionIds(ids: Tensor): Tensor {
  const [n, length] = ids.shape;
  const data = new Int32Array(n * length);
  for (let i = 0; i < n * length; i++) data[i] = ids.data[i] !== 0 ? (i % length) + 1 : 0;
  return new Tensor(data, [n, length]);
}

/** The model's inputs (in `inputNames` order) for the token ids `x` ([n, length]). */
export function inputsFor(inputNames: readonly string[], x: Tensor): Tensor[] {
  return inputNames.map((name, i) => {
    if (i === 0) return x;
    if (name === POSITIONS_INPUT) return positionIds(x);
    throw new Error(`experiment: no data for the model's input "${name}"`);
  });
}

/** `model`'s output probabilities over `x` (one tensor of inputs; positions added when asked). */
export function predictProbs(model: Model, x: Tensor, batchSize = 64): Float32Array {
  if (model.inputNames.length === 1) return model.predict(x, { batchSize }).data as Float32Array;
  return model.predictMany(inputsFor(model.inputNames, x), { batchSize })[0].data as Float32Array;
}
