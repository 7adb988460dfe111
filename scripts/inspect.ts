/**
 * `deno task inspect --model FILE`
 * Prints layers, output shapes, parameter counts (trainable / non-trainable) and, for Functional
 * models, each layer's inbound layers ("Connected to") of a Keras model file, like `summary()`.
 */
import { inspectCommand } from "../packages/keras-importer/cli.ts";

Deno.exit(await inspectCommand(Deno.args));
