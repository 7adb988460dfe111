/**
 * The fuzzer as a regression test: a short seeded campaign over every format must find
 * nothing, and the harness must catch each kind of failure it claims to catch.
 */
import { formatReport, runCampaign } from "./campaign.ts";
import { makeCase } from "./cases.ts";
import { parseFuzzArgs } from "../fuzz.ts";
import { buildSeeds, FORMATS } from "./seeds.ts";

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

// A fixed number of cases, not a rate: the time box only guards against a hang (how many cases
// fit in a time is the CI step's `deno task fuzz` run, not a unit test's business).
const CASES = 100 * FORMATS.length;

Deno.test(`fuzz: a seeded campaign of ${CASES} cases over every format finds nothing`, async () => {
  const outDir = await Deno.makeTempDir({ prefix: "scratchnet-fuzz-test-" });
  try {
    const report = await runCampaign({
      seed: 20251123,
      cases: CASES,
      seconds: 600,
      formats: FORMATS,
      outDir,
    });
    const text = formatReport(report);
    assert(report.findings.length === 0, `the fuzzer found problems:\n${text}`);
    for (const format of FORMATS) {
      const stats = report.perFormat[format];
      assert(stats && stats.cases > 0, `no cases ran for ${format}:\n${text}`);
      // Both outcomes must occur, or the mutations are too weak (all accepted) or the seeds
      // invalid (all rejected).
      assert(stats.accepted > 0 && stats.rejected > 0, `${format} is one-sided:\n${text}`);
    }
    assert(report.total === CASES, `only ${report.total} of ${CASES} cases ran:\n${text}`);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("fuzz: the harness reports untyped errors, hangs and large allocations", async () => {
  const outDir = await Deno.makeTempDir({ prefix: "scratchnet-fuzz-selftest-" });
  try {
    const report = await runCampaign({
      seed: 1,
      cases: 3,
      seconds: 60,
      formats: ["selftest-throw", "selftest-hang", "selftest-alloc"],
      hangMs: 1500,
      outDir,
    });
    const kinds = report.findings.map((f) => `${f.format}:${f.findings.map((d) => d.kind)}`);
    assert(kinds.includes("selftest-throw:untyped"), `untyped error not reported: ${kinds}`);
    assert(kinds.includes("selftest-hang:hang"), `hang not reported: ${kinds}`);
    assert(kinds.some((k) => k.startsWith("selftest-alloc:alloc")), `alloc not reported: ${kinds}`);
    // Each failing input is saved with a reproduction line.
    const saved = JSON.parse(await Deno.readTextFile(`${report.findings[0].savedTo}/case.json`));
    assert(/--seed 1 --format selftest-throw --case 0/.test(saved.reproduce), saved.reproduce);
  } finally {
    await Deno.remove(outDir, { recursive: true });
  }
});

Deno.test("fuzz: cases are determined by seed and index", async () => {
  const seeds = await buildSeeds(["npy", "tokenizer"]);
  for (const format of ["npy", "tokenizer"] as const) {
    for (let index = 0; index < 20; index++) {
      const a = makeCase(seeds, format, 7, index);
      const b = makeCase(seeds, format, 7, index);
      assert(a.mutation === b.mutation, `${format} #${index}: ${a.mutation} vs ${b.mutation}`);
      for (const name of Object.keys(a.files)) {
        assert(
          a.files[name].length === b.files[name].length &&
            a.files[name].every((v, i) => v === b.files[name][i]),
          `${format} #${index}: ${name} differs between two generations`,
        );
      }
    }
  }
});

Deno.test("fuzz: command-line flags are validated", () => {
  const options = parseFuzzArgs(["--seed", "5", "--cases=200", "--format", "npy,csv"]);
  assert(options.seed === 5 && options.cases === 200, JSON.stringify(options));
  assert(options.formats.join() === "npy,csv", JSON.stringify(options.formats));
  for (
    const bad of [
      ["--cases", "0"],
      ["--cases", "1.5"],
      ["--seconds"],
      ["--format", "gif"],
      ["--case", "3"],
      ["--seed", "1", "--seed", "2"],
      ["--bogus", "1"],
      ["stray"],
    ]
  ) {
    let threw = false;
    try {
      parseFuzzArgs(bad);
    } catch (e) {
      threw = (e as Error).constructor.name === "UsageError";
    }
    assert(threw, `${bad.join(" ")} was accepted`);
  }
});
