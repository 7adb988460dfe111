/**
 * `deno task predict --model FILE --input X.npy [--input …] --output Y.npy [--output …]
 *   [--output-layer NAME …] [--batch-size N] [--conv auto|direct|winograd] [--force]`
 * Runs a Keras model file (.keras, .h5, TF.js model.json) on NumPy batches: one `--input` per
 * model input, one `--output` per model output (or per `--output-layer`), in the model's order.
 */
import { predictCommand } from "../packages/keras-importer/cli.ts";

Deno.exit(await predictCommand(Deno.args));
