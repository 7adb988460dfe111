/**
 * `deno bench -A bench/load_bench.ts`: `loadModel` on ~1 MB and ~50 MB `.keras` and legacy
 * `.h5` files (the seeds' text model; the big one has a 195,000-word vocabulary), written to a
 * temporary directory with the importer's writers first.
 */
import { loadModel } from "../packages/keras-importer/mod.ts";
import { writeBenchFiles } from "./load_section.ts";

const dir = await Deno.makeTempDir({ prefix: "scratchnet-load-bench-" });
const files = await writeBenchFiles(dir, false);
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

for (const f of files) {
  Deno.bench({
    name: `loadModel ${f.name} (${(f.bytes / 1e6).toFixed(1)} MB)`,
    group: f.bytes > 10e6 ? "50 MB" : "1 MB",
    ...(f.bytes > 10e6 ? { n: 5, warmup: 1 } : {}),
    fn: async () => {
      const { model } = await loadModel(f.path);
      model?.dispose();
    },
  });
}
