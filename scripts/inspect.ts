/**
 * `deno task inspect --model FILE`
 * Prints layers, output shapes and parameter counts of a Keras model file, like `summary()`.
 */
import { inspectCommand } from "../packages/keras-importer/cli.ts";

Deno.exit(await inspectCommand(Deno.args));
