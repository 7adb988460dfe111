import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { NUSAX_LANGUAGES } from "@scratchnet/datasets";
import { UsageError } from "./errors.ts";
import { createProgress } from "./progress.ts";
import { familyGrid } from "./grid.ts";
import {
  BEST_VARIANTS,
  languagesTable,
  parseLanguagesArgs,
  runLanguages,
  TEXT_FAMILIES,
  wantsAllLanguages,
} from "./languages.ts";

Deno.test("--language all: every text family's best variant exists in its grid", () => {
  for (const f of TEXT_FAMILIES) {
    assert.ok(familyGrid(f).variants.some((v) => v.id === BEST_VARIANTS[f]), f);
  }
});

Deno.test("--language all options: all families and languages, 3 seeds by default; narrowing; refusals", () => {
  assert.ok(
    wantsAllLanguages(["--language", "all"]) && wantsAllLanguages(["lstm", "--language=all"]),
  );
  assert.ok(!wantsAllLanguages(["lstm", "--language", "javanese"]));
  const all = parseLanguagesArgs(["--language", "all", "--quick"]);
  assert.deepEqual(all.families, [...TEXT_FAMILIES]);
  assert.deepEqual(all.languages, [...NUSAX_LANGUAGES]);
  assert.equal(all.out, "experiments/languages-nusax-quick");
  for (const f of TEXT_FAMILIES) {
    const o = all.perFamily.get(f)!;
    assert.deepEqual([o.family, o.repeats, o.referenceSize, o.variants], [f, 3, 100, [
      BEST_VARIANTS[f],
    ]]);
  }
  const one = parseLanguagesArgs([
    "gru",
    "--language",
    "all",
    "--languages",
    "javanese,sundanese",
    "--repeats",
    "2",
    "--variants",
    "bigru_64-64",
    "--epochs",
    "5",
  ]);
  assert.deepEqual(one.families, ["gru"]);
  assert.deepEqual(one.languages, ["javanese", "sundanese"]);
  const g = one.perFamily.get("gru")!;
  assert.deepEqual([g.repeats, g.variants, g.epochs], [2, ["bigru_64-64"], 5]);
  assert.throws(() => parseLanguagesArgs(["cnn", "--language", "all"]), UsageError);
  // Sequence flags for the whole table apply to the sequence families and skip bow …
  const seq = parseLanguagesArgs([
    "--language",
    "all",
    "--families",
    "lstm,bow",
    "--sequence-length",
    "32",
    "--max-tokens=3000",
  ]);
  assert.deepEqual([
    seq.perFamily.get("lstm")!.sequenceLength,
    seq.perFamily.get("lstm")!.maxTokens,
  ], [
    32,
    3000,
  ]);
  assert.equal(seq.perFamily.get("bow")!.variants[0], BEST_VARIANTS.bow);
  // … but bow named alone refuses them, as `experiment bow` does.
  assert.throws(
    () => parseLanguagesArgs(["bow", "--language", "all", "--sequence-length", "32"]),
    /--sequence-length/,
  );
  assert.throws(
    () => parseLanguagesArgs(["--language", "all", "--languages", "klingon"]),
    UsageError,
  );
  assert.throws(
    () => parseLanguagesArgs(["--language", "all", "--variants", "bigru_64-64"]),
    /only with one family/,
  );
});

Deno.test("--language all table: bold row best, mean over languages, wins per family", () => {
  const cell = (language: "javanese" | "sundanese", family: "lstm" | "gru", mean: number) => ({
    language,
    family,
    variant: "v",
    mean,
    std: 0.01,
    seeds: 3,
  });
  const table = languagesTable({
    families: ["lstm", "gru"],
    languages: ["javanese", "sundanese"],
    cells: [
      cell("javanese", "lstm", 0.7),
      cell("javanese", "gru", 0.6),
      cell("sundanese", "lstm", 0.5),
      cell("sundanese", "gru", 0.8),
    ],
    wallClockSeconds: 1,
  });
  assert.match(table, /\| javanese \| \*\*0\.700 ± 0\.010\*\* \| 0\.600 ± 0\.010 \|/);
  assert.match(table, /\| sundanese \| 0\.500 ± 0\.010 \| \*\*0\.800 ± 0\.010\*\* \|/);
  assert.match(table, /\| mean over languages \| 0\.600 \| 0\.700 \|/);
  assert.match(table, /\| languages won \| 1 \| 1 \|/);
});

Deno.test("--language all --quick end to end: one family, two languages, two seeds, one table", async () => {
  const out = await Deno.makeTempDir({ prefix: "languages_test_" });
  try {
    const o = parseLanguagesArgs([
      "cnn1d",
      "--language",
      "all",
      "--languages",
      "javanese,sundanese",
      "--quick",
      "--repeats",
      "2",
      "--train-size",
      "40",
      "--epochs",
      "1",
      "--out",
      out,
      "--force",
      "--progress",
      "none",
    ]);
    const r = await runLanguages(o, createProgress("none"));
    assert.deepEqual(r.cells.map((c) => `${c.language}/${c.family}`), [
      "javanese/cnn1d",
      "sundanese/cnn1d",
    ]);
    for (const c of r.cells) {
      assert.equal(c.error, undefined, String(c.error));
      assert.equal(c.seeds, 2);
      assert.ok(c.mean! >= 0 && c.mean! <= 1 && c.std! >= 0);
      assert.equal(c.agreement, 1);
      assert.ok(c.maxAbsDiff! <= 1e-5);
    }
    const report = await Deno.readTextFile(join(out, "report.md"));
    assert.match(report, /\| javanese \| \*\*0\.\d{3} ± 0\.\d{3}\*\* \|/);
    assert.match(report, /mean ± std over 2 seeds/);
    assert.ok(existsSync(join(out, "sundanese", "cnn1d", "models", "cnn1d_l2_f128_k5.keras")));
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});
