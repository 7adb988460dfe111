/** `bench:report`'s selection flags (`bench/report_args.ts`). */
import assert from "node:assert/strict";
import {
  checkReportFlags,
  parseSelection,
  REPORT_SECTIONS,
  REPORT_USAGE,
  selectsModel,
} from "./report_args.ts";
import { ORT_TIME_LIMIT_MS } from "./models_section.ts";

Deno.test("report selection: defaults select everything", () => {
  const sel = parseSelection(["--quick"]);
  assert.equal(sel.models, undefined);
  assert.equal(sel.batches, undefined);
  assert.equal(sel.peers, undefined);
  assert.deepEqual([...sel.sections], [...REPORT_SECTIONS]);
  assert.equal(sel.ortTimeLimitMs, ORT_TIME_LIMIT_MS);
  assert.equal(sel.ortWebReserveBytes, undefined);
  assert.ok(selectsModel(sel, "cnn-3x3-32", "CNN 1 conv 32 k3"));
});

Deno.test("report selection: one row, one batch, one column, models only", () => {
  const sel = parseSelection([
    "--models",
    "BiLSTM 1×64",
    "--batches",
    "64",
    "--peers",
    "ortWeb2,ortNode1",
    "--sections",
    "models",
    "--ort-timeout",
    "30",
    "--ort-web-reserve",
    "0",
  ]);
  assert.ok(selectsModel(sel, "text-bi-lstm-1x64", "BiLSTM 1×64"));
  assert.ok(!selectsModel(sel, "text-uni-lstm-1x64", "LSTM 1×64"));
  assert.ok(selectsModel(parseSelection(["--models", "bi-lstm"]), "text-bi-lstm-1x64", "x"));
  assert.deepEqual(sel.batches, [64]);
  assert.deepEqual(sel.peers, ["ortWeb2", "ortNode1"]);
  assert.deepEqual([...sel.sections], ["models"]);
  assert.equal(sel.ortTimeLimitMs, 30_000);
  assert.equal(sel.ortWebReserveBytes, 0);
});

Deno.test("report selection: wrong values are refused by name", () => {
  assert.throws(() => parseSelection(["--peers", "ortWeb3"]), /unknown column ortWeb3/);
  assert.throws(() => parseSelection(["--sections", "kernel"]), /unknown section kernel/);
  assert.throws(() => parseSelection(["--batches", "0"]), /not a batch size: 0/);
  assert.throws(() => parseSelection(["--ort-timeout", "x"]), /--ort-timeout/);
  assert.throws(() => parseSelection(["--models"]), /--models needs a value/);
  assert.throws(() => parseSelection(["--models", "--quick"]), /--models needs a value/);
});

Deno.test("report flags: --help, unknown flags and missing values are caught before a run", () => {
  assert.equal(checkReportFlags([]), false);
  assert.equal(checkReportFlags(["--quick", "--models", "LSTM", "--out", "/tmp/r"]), false);
  assert.equal(checkReportFlags(["--help"]), true);
  assert.equal(checkReportFlags(["-h"]), true);
  // A typo would otherwise run the whole report.
  assert.throws(() => checkReportFlags(["--model", "LSTM"]), /unknown flag or argument: --model/);
  assert.throws(() => checkReportFlags(["--quick", "extra"]), /unknown flag or argument: extra/);
  assert.throws(() => checkReportFlags(["--batches"]), /--batches needs a value/);
  assert.throws(() => checkReportFlags(["--threads", "--quick"]), /--threads needs a value/);
  for (const flag of ["--models", "--peers", "--sections", "--ort-timeout", "--render"]) {
    assert.ok(REPORT_USAGE.includes(flag), flag);
  }
});
