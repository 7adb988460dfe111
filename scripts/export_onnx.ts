/**
 * `deno task export-onnx <model.keras | model.h5 | model.json> <out.onnx> [--opset N]`
 * Writes a Keras model file (loaded by the importer, run by the engine) as an ONNX model for ONNX
 * Runtime; prints its inputs and outputs. Exit 1 with one line naming the problem (a file that
 * does not load, a layer without an ONNX form) otherwise.
 */
import { ImportError, loadModel } from "@scratchnet/keras-importer";
import { collectGraph, DEFAULT_OPSET, exportOnnx } from "@scratchnet/onnx";
import { EngineError } from "@scratchnet/engine";

const USAGE = "usage: deno task export-onnx <model.keras|model.h5|model.json> <out.onnx> " +
  `[--opset N (default ${DEFAULT_OPSET})]`;

/** Runs the command on `args`; returns the exit code. */
export async function exportOnnxCommand(args: string[]): Promise<number> {
  const positional: string[] = [];
  let opset = DEFAULT_OPSET;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--opset") opset = Number(args[++i]);
    else if (args[i].startsWith("--opset=")) opset = Number(args[i].slice(8));
    else positional.push(args[i]);
  }
  if (positional.length !== 2) {
    console.error(USAGE);
    return 2;
  }
  const [source, target] = positional;
  try {
    const { model } = await loadModel(source);
    if (!model) throw new Error(`${source} holds no model (preprocessing layers only)`);
    const graph = collectGraph(model, { opset });
    const bytes = exportOnnx(model, { opset });
    await Deno.writeFile(target, bytes);
    const fmt = (v: { name: string; type: string; dims: readonly (number | string)[] }) =>
      `${v.name} ${v.type}[${v.dims.join(", ")}]`;
    console.log(`${target}: opset ${opset}, ${graph.nodes.length} nodes, ${bytes.length} bytes`);
    console.log(`inputs:  ${graph.inputs.map(fmt).join("; ")}`);
    console.log(`outputs: ${graph.outputs.map(fmt).join("; ")}`);
    return 0;
  } catch (e) {
    if (
      e instanceof EngineError || e instanceof ImportError || e instanceof RangeError ||
      e instanceof Deno.errors.NotFound
    ) {
      console.error(`export-onnx: ${(e as Error).message}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) Deno.exit(await exportOnnxCommand(Deno.args));
