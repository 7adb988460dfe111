/**
 * `deno task fuzz [--seed N] [--cases N] [--seconds N] [--format a,b] [--case N] [--out DIR]`
 *
 * Mutates valid files of every format the project reads (`.keras`, legacy `.h5`, weights-only
 * `.h5`, TF.js, `.npy`, NusaX CSV, IDX, CIFAR-10 batches and tarballs, tokenizer configs and
 * vocabularies) and fuzzes the engine's `predict` inputs. A case fails on an exception that is
 * not the package's typed error, a run over 1 s, an allocation over 4× the input size, leaked
 * engine memory, or a hang/crash of the runner process. Prints per-format counts and findings,
 * writes failing inputs to `--out` (default: a new temporary folder) and exits 1 on findings.
 *
 * @module
 */
import { type CampaignOptions, formatReport, runCampaign } from "./fuzz/campaign.ts";
import { type AnyFormat, FORMATS, SELF_TEST_FORMATS } from "./fuzz/seeds.ts";

const USAGE =
  "usage: deno task fuzz [--seed N] [--cases N] [--seconds N] [--format a,b,...] [--case N]\n" +
  "                      [--out DIR] [--slow-ms N] [--hang-ms N]\n" +
  `  formats: ${FORMATS.join(", ")} (default all)\n` +
  "  --case N reruns one case of one --format (as printed in a finding's reproduce line)";

/** A bad command line. */
class UsageError extends Error {}

function integer(name: string, value: string | undefined, min: number): number {
  const n = Number(value);
  if (value === undefined || value === "" || !Number.isInteger(n) || n < min) {
    throw new UsageError(`--${name} must be an integer >= ${min}, got ${JSON.stringify(value)}`);
  }
  return n;
}

/** Parses the command line into campaign options. */
export function parseFuzzArgs(args: readonly string[]): CampaignOptions & { help?: boolean } {
  const options: CampaignOptions & { help?: boolean } = {
    seed: 1,
    cases: 10_000,
    seconds: 240,
    formats: [...FORMATS],
  };
  const seen = new Set<string>();
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--help" || arg === "-h") {
      options.help = true;
      continue;
    }
    if (!arg.startsWith("--")) throw new UsageError(`unexpected argument ${JSON.stringify(arg)}`);
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq >= 0 ? eq : undefined);
    const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
    if (seen.has(name)) throw new UsageError(`--${name} given twice`);
    seen.add(name);
    switch (name) {
      case "seed":
        options.seed = integer(name, value, 0);
        break;
      case "cases":
        options.cases = integer(name, value, 1);
        break;
      case "seconds":
        options.seconds = integer(name, value, 1);
        break;
      case "slow-ms":
        options.slowMs = integer(name, value, 1);
        break;
      case "hang-ms":
        options.hangMs = integer(name, value, 100);
        break;
      case "case":
        options.only = [integer(name, value, 0)];
        break;
      case "out":
        if (!value) throw new UsageError("--out needs a folder");
        options.outDir = value;
        break;
      case "format": {
        if (!value) throw new UsageError("--format needs a list of formats");
        const known: readonly string[] = [...FORMATS, ...SELF_TEST_FORMATS];
        const list = value.split(",").map((s) => s.trim()).filter((s) => s !== "");
        const unknown = list.filter((f) => !known.includes(f));
        if (unknown.length > 0 || list.length === 0) {
          throw new UsageError(
            `unknown format(s) ${unknown.join(", ")}; known: ${FORMATS.join(", ")}`,
          );
        }
        options.formats = list as AnyFormat[];
        break;
      }
      default:
        throw new UsageError(`unknown flag --${name}`);
    }
  }
  if (options.only && options.formats.length !== 1) {
    throw new UsageError("--case needs exactly one --format");
  }
  return options;
}

if (import.meta.main) {
  let options: ReturnType<typeof parseFuzzArgs>;
  try {
    options = parseFuzzArgs(Deno.args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`error: ${e.message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const report = await runCampaign({ ...options, log: (line) => console.error(line) });
  console.log(formatReport(report));
  Deno.exit(report.findings.length > 0 ? 1 : 0);
}
