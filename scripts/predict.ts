/**
 * `deno task predict --model FILE --input X.npy --output Y.npy [--batch-size N] [--force]`
 * Runs a Keras model file (.keras, .h5, TF.js model.json) on a NumPy batch.
 */
import { predictCommand } from "../packages/keras-importer/cli.ts";

Deno.exit(await predictCommand(Deno.args));
