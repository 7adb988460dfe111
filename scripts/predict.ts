/**
 * `deno task predict --model FILE --input X.npy [--input …] --output Y.npy [--output …]
 *   [--output-layer NAME …] [--batch-size N] [--conv auto|direct|winograd] [--force]`
 * Runs a Keras model file (.keras, .h5, TF.js model.json) on NumPy batches: one `--input` per
 * model input, one `--output` per model output (or per `--output-layer`), in the model's order.
 * `--images IMG|DIR|ZIP [--labels FILE] [--top-k N] [--pixels 0-1|0-255]` runs an image model on
 * image files instead and prints the top-k classes (packages/keras-importer/predict_images.ts).
 */
import { predictCommand } from "../packages/keras-importer/cli.ts";

Deno.exit(await predictCommand(Deno.args));
