/**
 * Compiles the AssemblyScript kernels in `wasm/assembly/` to SIMD WebAssembly, twice: plain SIMD
 * and relaxed SIMD (fused multiply-add), which the engine prefers when the runtime supports it.
 *
 * Writes `wasm/build/kernels.wasm`, `wasm/build/kernels_relaxed.wasm`,
 * `packages/engine/src/wasm/kernels_wasm.ts` (the same bytes as base64, so the engine imports by
 * URL, bundles and runs in workers with no fetch or build) and
 * `packages/engine/src/wasm/kernel_exports.ts` (the TypeScript signature of every function the
 * module exports, from asc's `--bindings` declarations, with each function's doc comment from
 * `wasm/assembly/`: `KernelExports` is typed from it, so a misspelt kernel or a wrong argument
 * count fails `deno check`).
 * `--check` builds into memory and exits 1 when the committed files differ from a fresh build.
 */
import asc from "assemblyscript/asc";
import { encodeBase64 } from "../packages/engine/src/wasm/base64.ts";

const root = new URL("../", import.meta.url);
const wasmPath = new URL("wasm/build/kernels.wasm", root);
const relaxedPath = new URL("wasm/build/kernels_relaxed.wasm", root);
const modulePath = new URL("packages/engine/src/wasm/kernels_wasm.ts", root);
const exportsPath = new URL("packages/engine/src/wasm/kernel_exports.ts", root);
const check = Deno.args.includes("--check");

/**
 * Compiles the kernels with the given extra asc flags (`optimize` false: unoptimised, for the
 * declarations only); exits the process on errors. Returns the module and any text outputs by name.
 */
async function compile(
  extraFlags: string[],
  optimize = true,
): Promise<{ binary: Uint8Array; texts: Map<string, string> }> {
  let binary: Uint8Array | undefined;
  const texts = new Map<string, string>();
  const { error, stderr } = await asc.main([
    "wasm/assembly/index.ts",
    "--outFile",
    "kernels.wasm",
    ...extraFlags,
    ...(optimize
      ? ["--optimizeLevel", "3", "--shrinkLevel", "0", "--converge"]
      : ["--optimizeLevel", "0"]),
    "--noAssert",
    "--runtime",
    "stub",
    "--initialMemory",
    "1",
    // The memory is imported and declared shared so worker threads can run kernels on it; the
    // engine clears the shared flag where shared memory is unavailable (memory_import.ts).
    "--enable",
    "threads",
    "--importMemory",
    "--sharedMemory",
    "--maximumMemory",
    "65536",
  ], {
    readFile: (name: string, baseDir: string) => {
      try {
        return Deno.readTextFileSync(new URL(`${baseDir}/${name}`.replace(/^\.\//, ""), root));
      } catch {
        return null;
      }
    },
    writeFile: (name: string, contents: string | Uint8Array) => {
      if (name.endsWith(".wasm") && typeof contents !== "string") binary = contents;
      else if (typeof contents === "string") texts.set(name, contents);
    },
    listFiles: (dirname: string, baseDir: string) => {
      try {
        return [...Deno.readDirSync(new URL(`${baseDir}/${dirname}`, root))].map((e) => e.name);
      } catch {
        return null;
      }
    },
  });
  if (error || !binary) {
    console.error(stderr.toString());
    console.error(`build:wasm failed (${extraFlags.join(" ")}): ${error?.message ?? "no output"}`);
    Deno.exit(1);
  }
  return { binary, texts };
}

/** One exported function as asc's `--bindings` declarations describe it. */
interface ExportedFunction {
  name: string;
  /** TypeScript parameters (`name: type`, in order) and result type. */
  params: string[];
  result: string;
  /** AssemblyScript types of the parameters and of the result. */
  ascParams: string[];
  ascResult: string;
  /** Source file (`wasm/assembly/….ts`) and name of the function inside it. */
  file: string;
  internalName: string;
}

/**
 * The exported functions in asc's raw-bindings `.d.ts` (one JSDoc block naming the internal
 * element and its `@param`/`@returns` AssemblyScript types, then `export function name(…): T;`).
 * Exits on an export it cannot type (a global other than the memory).
 */
function parseDeclarations(dts: string): ExportedFunction[] {
  const out: ExportedFunction[] = [];
  const block =
    /\/\*\*\n((?:[ \t]*\*.*\n)*?)[ \t]*\*\/\n[ \t]*export (function|const) (\w+)(.*)\n/g;
  let seen = 0;
  for (const m of dts.matchAll(block)) {
    const [, doc, kind, name, rest] = m;
    if (kind === "const") {
      if (name !== "memory") {
        console.error(`build:wasm: exported global ${name} is not supported; export a function`);
        Deno.exit(1);
      }
      seen++;
      continue;
    }
    const sig = /^\((.*)\): (.+);$/.exec(rest);
    const lines = doc.split("\n").map((l) => l.replace(/^[ \t]*\* ?/, "").trim()).filter((l) => l);
    const path = /^(wasm\/assembly\/.+)\/([^/]+)$/.exec(lines[0] ?? "");
    if (!sig || !path) {
      console.error(`build:wasm: cannot read the declaration of ${name} from asc's bindings`);
      Deno.exit(1);
    }
    const ascType = (l: string) => /`([^`]+)`/.exec(l)?.[1] ?? "?";
    out.push({
      name,
      params: sig[1] === "" ? [] : sig[1].split(", "),
      result: sig[2],
      ascParams: lines.filter((l) => l.startsWith("@param ")).map(ascType),
      ascResult: ascType(lines.find((l) => l.startsWith("@returns ")) ?? "`void`"),
      file: `${path[1]}.ts`,
      internalName: path[2],
    });
    seen++;
  }
  const declared = [...dts.matchAll(/^[ \t]*export (?:function|const) /gm)].length;
  // The namespace's exports plus the module's own `instantiate` declaration.
  if (seen !== declared - 1 || out.length === 0) {
    console.error(`build:wasm: read ${seen} of ${declared - 1} declarations in asc's bindings`);
    Deno.exit(1);
  }
  return out;
}

/** The lines of the `/** … *\/` comment right above `export function name` in `source`, if any. */
function docComment(source: string, name: string): string[] {
  const at = new RegExp(`^[ \\t]*(?:@\\w+[ \\t]+)*export[ \\t]+function[ \\t]+${name}\\b`, "m")
    .exec(source);
  if (!at) return [];
  const before = source.slice(0, at.index).split("\n");
  before.pop(); // the (empty) start of the function's own line
  // Decorators and their `// @ts-ignore` lines may stand between the comment and the function.
  while (before.length && /^\s*(@\w+.*|\/\/\s*@ts-\w+.*)?$/.test(before.at(-1)!)) {
    if (before.at(-1)!.trim() === "") break;
    before.pop();
  }
  const text = before.join("\n").trimEnd();
  if (!text.endsWith("*/")) return [];
  const start = text.lastIndexOf("/**");
  const comment = text.slice(start);
  if (start < 0 || comment.indexOf("*/") !== comment.length - 2) return [];
  const lines = comment.slice(3, -2).split("\n").map((l) => l.replace(/^\s*\* ?/, "").trimEnd());
  while (lines.length && lines[0].trim() === "") lines.shift();
  while (lines.length && lines.at(-1)!.trim() === "") lines.pop();
  return lines.map((l, i) => (i === 0 ? l.trim() : l));
}

/** The generated `kernel_exports.ts` for asc's declarations of `wasm/assembly/index.ts`. */
function kernelExportsModule(dts: string): string {
  const functions = parseDeclarations(dts);
  const sources = new Map<string, string>();
  const source = (file: string) => {
    if (!sources.has(file)) sources.set(file, Deno.readTextFileSync(new URL(file, root)));
    return sources.get(file)!;
  };
  const members = functions.map((f) => {
    const doc = docComment(source(f.file), f.internalName);
    const ascParams = f.params.map((p, i) => `${p.split(":")[0]}: ${f.ascParams[i]}`);
    const where = f.internalName === f.name ? f.file : `${f.file} (${f.internalName})`;
    const comment = [
      ...doc,
      ...(doc.length ? [""] : []),
      `AssemblyScript, ${where}:`,
      `\`${f.name}(${ascParams.join(", ")}): ${f.ascResult}\``,
    ];
    const oneLine = `  ${f.name}(${f.params.join(", ")}): ${f.result};`;
    const signature = oneLine.length <= 100
      ? oneLine
      : `  ${f.name}(\n${f.params.map((p) => `    ${p},\n`).join("")}  ): ${f.result};`;
    const body = comment.map((l) => (l ? `   * ${l}` : "   *")).join("\n");
    return `  /**\n${body}\n   */\n${signature}`;
  });
  return [
    "// Generated by deno task build:wasm (scripts/build_wasm.ts) from wasm/assembly/index.ts — do not",
    "// edit. `deno task check:wasm` fails when this file differs from a fresh generation.",
    "// deno-fmt-ignore-file",
    "",
    "/**",
    " * Every function the kernel module exports, typed from asc's declarations (i32, u32, f32, f64",
    " * and usize are numbers, i64 a bigint). Pointers are byte offsets into the module's memory; a",
    " * u32 or usize result arrives as a signed i32 (`>>> 0` for the unsigned value).",
    " */",
    "export interface KernelFunctions {",
    members.join("\n"),
    "}",
    "",
    "/** The names of all exported functions, in the module's export order. */",
    "export const KERNEL_NAMES = [",
    ...functions.map((f) => `  "${f.name}",`),
    "] as const;",
    "",
    "/** The name of an exported kernel function. */",
    "export type KernelName = (typeof KERNEL_NAMES)[number];",
    "",
  ].join("\n");
}

// Two variants of the same sources: plain 128-bit SIMD (runs everywhere SIMD does) and relaxed
// SIMD (fused multiply-add; `ASC_FEATURE_RELAXED_SIMD` selects its code paths). The engine picks
// the relaxed one at start-up when the runtime validates it.
const binary = (await compile(["--enable", "simd"])).binary;
const relaxed = (await compile(["--enable", "simd", "--enable", "relaxed-simd"])).binary;
// The export declarations come from a third, unoptimised compile with asc's raw bindings (the
// two builds above stay exactly as they were; optimisation does not change the export list).
const bindings = await compile(["--enable", "simd", "--bindings", "raw"], false);
const declarations = bindings.texts.get("kernels.d.ts");
if (declarations === undefined) {
  console.error("build:wasm failed: asc --bindings wrote no kernels.d.ts");
  Deno.exit(1);
}
const exportsText = kernelExportsModule(declarations);

const moduleText = `// Generated by scripts/build_wasm.ts from wasm/assembly/ — do not edit.\n` +
  `// deno-fmt-ignore-file\n` +
  `/** The compiled SIMD kernel module (${binary.length} bytes), base64. */\n` +
  `export const KERNELS_WASM_BASE64 =\n  "${encodeBase64(binary)}";\n` +
  `/** The same kernels built with relaxed SIMD (fused multiply-add; ${relaxed.length} bytes). */\n` +
  `export const KERNELS_RELAXED_WASM_BASE64 =\n  "${encodeBase64(relaxed)}";\n`;

if (check) {
  let same = false;
  try {
    const sameBytes = (a: Uint8Array, b: Uint8Array) =>
      a.length === b.length && a.every((x, i) => x === b[i]);
    same = sameBytes(Deno.readFileSync(wasmPath), binary) &&
      sameBytes(Deno.readFileSync(relaxedPath), relaxed) &&
      Deno.readTextFileSync(modulePath) === moduleText;
  } catch {
    same = false;
  }
  if (!same) {
    console.error(
      "check:wasm: the committed WASM differs from a fresh build; run `deno task build:wasm`.",
    );
    Deno.exit(1);
  }
  let sameExports = false;
  try {
    sameExports = Deno.readTextFileSync(exportsPath) === exportsText;
  } catch {
    sameExports = false;
  }
  if (!sameExports) {
    console.error(
      "check:wasm: packages/engine/src/wasm/kernel_exports.ts differs from the one generated from " +
        "wasm/assembly/; run `deno task build:wasm`.",
    );
    Deno.exit(1);
  }
  console.log(
    `check:wasm: committed module and kernel_exports.ts match a fresh build (${binary.length} bytes)`,
  );
} else {
  Deno.mkdirSync(new URL("wasm/build/", root), { recursive: true });
  Deno.writeFileSync(wasmPath, binary);
  Deno.writeFileSync(relaxedPath, relaxed);
  Deno.writeTextFileSync(modulePath, moduleText);
  Deno.writeTextFileSync(exportsPath, exportsText);
  console.log(
    `build:wasm: wrote wasm/build/kernels.wasm (${binary.length} bytes), ` +
      `wasm/build/kernels_relaxed.wasm (${relaxed.length} bytes), ` +
      `packages/engine/src/wasm/kernel_exports.ts`,
  );
}
