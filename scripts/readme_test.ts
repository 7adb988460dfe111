/**
 * Keeps the README's "First steps" honest: every fenced block of that section runs, in order, in
 * one temporary folder that starts with what the prose says is there — a small `model.keras` (a
 * Dense classifier, 4 features → 3 classes, built by the engine and written by `saveKeras`), `x.npy`
 * (a float32 batch for it) and `vectorizer.keras` (Keras 3's, from `../shared/keras-samples/`).
 *
 * - ```ts blocks are type-checked together (`deno check`), then each runs with `deno run -A`. Their
 *   workspace imports (`@scratchnet/engine` …) are rewritten to the packages' `mod.ts` files. A
 *   `console.log(…); // → expected` line must print `expected` (compared without whitespace).
 * - ```sh blocks: each `deno task …` line runs with this repository's config (tasks run in the
 *   repository's folder) and its file arguments in the temporary folder, and must succeed.
 */
import { ok as assert } from "node:assert/strict";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildModel } from "../packages/engine/mod.ts";
import { saveKeras, writeNpy } from "../packages/keras-importer/mod.ts";

const REPO = new URL("../", import.meta.url);
const CONFIG = fileURLToPath(new URL("deno.json", REPO));
const SECTION = "## First steps";

/** A fenced code block of the README. */
export interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

/** The fenced blocks between `heading` and the next `## ` heading of `markdown`. */
export function sectionBlocks(markdown: string, heading: string): CodeBlock[] {
  const lines = markdown.split("\n");
  const start = lines.findIndex((l) => l.trim() === heading);
  if (start < 0) throw new Error(`README has no "${heading}" section`);
  const blocks: CodeBlock[] = [];
  let open: { lang: string; line: number; body: string[] } | null = null;
  for (let i = start + 1; i < lines.length; i++) {
    const line = lines[i];
    if (!open && line.startsWith("## ")) break;
    const fence = line.match(/^```(\S*)\s*$/);
    if (fence && !open) open = { lang: fence[1], line: i + 1, body: [] };
    else if (fence && open) {
      blocks.push({ lang: open.lang, code: open.body.join("\n") + "\n", line: open.line });
      open = null;
    } else if (open) open.body.push(line);
  }
  return blocks;
}

/** `code` with `@scratchnet/<package>` imports pointing at this checkout's `mod.ts` files. */
export function localImports(code: string): string {
  return code.replace(
    /from "@scratchnet\/([a-z-]+)"/g,
    (_, pkg: string) => `from "${new URL(`packages/${pkg}/mod.ts`, REPO).href}"`,
  );
}

/** The `// → expected` annotations of `console.log` lines, in order. */
export function expectedOutputs(code: string): string[] {
  return [...code.matchAll(/console\.log\(.*\);\s*\/\/ → (.+)$/gm)].map((m) => m[1].trim());
}

const squash = (s: string) => s.replace(/\s+/g, "");

async function deno(args: string[], cwd: string): Promise<{ code: number; out: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  const err = new TextDecoder().decode(stderr);
  return { code, out: code === 0 ? out : `${out}\n${err}` };
}

/** The folder the blocks start in (see the module comment). */
async function prepareFolder(dir: string): Promise<void> {
  const model = buildModel({
    config: {
      class_name: "Sequential",
      config: {
        name: "readme_fixture",
        layers: [
          { class_name: "InputLayer", config: { name: "features", batch_shape: [null, 4] } },
          { class_name: "Dense", config: { name: "hidden", units: 8, activation: "relu" } },
          { class_name: "Dense", config: { name: "probs", units: 3, activation: "softmax" } },
        ],
      },
    },
    weights: {},
  }, { initialize: { seed: 7 } });
  await saveKeras(model, join(dir, "model.keras"));
  model.dispose();
  const x = Float32Array.from({ length: 5 * 4 }, (_, i) => (i % 7) / 7);
  await Deno.writeFile(join(dir, "x.npy"), writeNpy({ data: x, shape: [5, 4] }));
  const samples = new URL("../shared/keras-samples/vectorizer.keras", REPO);
  await copyFile(fileURLToPath(samples), join(dir, "vectorizer.keras"));
}

Deno.test("README First steps: every block runs as written", async (t) => {
  const readme = await Deno.readTextFile(new URL("README.md", REPO));
  const blocks = sectionBlocks(readme, SECTION);
  assert(blocks.filter((b) => b.lang === "ts").length >= 3, "expected ts examples in the section");
  assert(blocks.some((b) => b.lang === "sh"), "expected a command-line example in the section");
  const dir = await Deno.makeTempDir({ prefix: "scratchnet-readme-" });
  try {
    await prepareFolder(dir);
    const files = new Map<CodeBlock, string>();
    for (const [i, block] of blocks.entries()) {
      if (block.lang !== "ts") continue;
      const file = join(dir, `example_${i + 1}.ts`);
      await Deno.writeTextFile(file, localImports(block.code));
      files.set(block, file);
    }
    const check = await deno(["check", "--config", CONFIG, ...files.values()], dir);
    assert(check.code === 0, `README examples do not type-check:\n${check.out}`);

    for (const block of blocks) {
      await t.step(`README.md:${block.line} (${block.lang})`, async () => {
        if (block.lang === "ts") {
          const run = await deno(["run", "-A", "--config", CONFIG, files.get(block)!], dir);
          assert(run.code === 0, `README.md:${block.line} failed:\n${run.out}`);
          const printed = run.out.split("\n").map(squash);
          for (const expected of expectedOutputs(block.code)) {
            assert(
              printed.includes(squash(expected)),
              `README.md:${block.line} should print ${expected}; it printed:\n${run.out}`,
            );
          }
        } else if (block.lang === "sh") {
          for (const line of block.code.split("\n")) {
            const command = line.replace(/#.*$/, "").trim();
            if (!command) continue;
            const [denoWord, taskWord, task, ...args] = command.split(/\s+/);
            assert(denoWord === "deno" && taskWord === "task", `not a deno task line: ${line}`);
            // Tasks run in the repository's folder: the file names become the temporary folder's.
            const inDir = args.map((a) => (a.startsWith("-") ? a : join(dir, a)));
            const run = await deno(["task", "--config", CONFIG, task, ...inDir], dir);
            assert(run.code === 0, `README.md:${block.line} "${command}" failed:\n${run.out}`);
          }
        }
      });
    }
    // The command-line example wrote its output; the training example its files.
    for (const name of ["y.npy", "model.keras", "tuned.keras"]) {
      assert((await Deno.stat(join(dir, name))).isFile, `${name} was not written`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("README helpers: section blocks, local imports, expected outputs", () => {
  const md = "# x\n## First steps\ntext\n```ts\nconsole.log(1); // → 1\n```\n```sh\nls\n```\n" +
    "## Next\n```ts\nnot this\n```\n";
  const blocks = sectionBlocks(md, SECTION);
  assert(blocks.length === 2 && blocks[0].lang === "ts" && blocks[1].lang === "sh");
  assert(blocks[0].line === 4);
  assert(expectedOutputs(blocks[0].code)[0] === "1");
  const rewritten = localImports('import { Tensor } from "@scratchnet/engine";');
  assert(
    rewritten.includes("/packages/engine/mod.ts") && rewritten.startsWith("import { Tensor }"),
  );
});
