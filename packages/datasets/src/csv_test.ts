import { assertEquals, assertThrows } from "./test_assert.ts";
import { columnIndexes, parseCsv } from "./csv.ts";
import { CorruptFileError, CsvFormatError } from "./errors.ts";

Deno.test("parseCsv: quoted fields with commas, doubled quotes and newlines", () => {
  const table = parseCsv(
    'id,text,label\n1,"a, b",x\n2,"she said ""hi""",y\n3,"line one\nline two",z\n',
    "t.csv",
  );
  assertEquals(table.header, ["id", "text", "label"]);
  assertEquals(table.records.map((r) => r.fields), [
    ["1", "a, b", "x"],
    ["2", 'she said "hi"', "y"],
    ["3", "line one\nline two", "z"],
  ]);
  assertEquals(table.records.map((r) => r.row), [2, 3, 4]);
  assertEquals(table.records.map((r) => r.line), [2, 3, 4]);
});

Deno.test("parseCsv: CRLF line ends, BOM, blank lines and no final newline", () => {
  const table = parseCsv('\ufeffid,text\r\n1,"x\r\ny"\r\n\r\n2,z', "t.csv");
  assertEquals(table.header, ["id", "text"]);
  assertEquals(table.records.map((r) => r.fields), [["1", "x\r\ny"], ["2", "z"]]);
  // The second record starts on line 5: header, two lines of record 1, one blank line.
  assertEquals(table.records[1].line, 5);
});

Deno.test("parseCsv: a record with a missing field names file and row", () => {
  const error = assertThrows(
    () => parseCsv("id,text,label\n1,ok,x\n2,short\n", "data/t.csv"),
    CsvFormatError,
  );
  assertEquals(error.row, 3);
  assertEquals(error.file, "data/t.csv");
  assertEquals(error instanceof CorruptFileError, true);
  assertEquals(/expected 3 fields.*found 2/.test(error.message), true);
});

Deno.test("parseCsv: an extra field is rejected too", () => {
  const error = assertThrows(() => parseCsv("a,b\n1,2,3\n", "t.csv"), CsvFormatError);
  assertEquals(error.row, 2);
});

Deno.test("parseCsv: an unterminated quote is a CsvFormatError", () => {
  const error = assertThrows(
    () => parseCsv('id,text\n1,"never closed\n2,b\n', "t.csv"),
    CsvFormatError,
  );
  assertEquals(error.row, 2);
});

Deno.test("parseCsv: an empty file has no header", () => {
  assertThrows(() => parseCsv("", "t.csv"), CsvFormatError, "header");
  assertThrows(() => parseCsv("\n\n", "t.csv"), CsvFormatError, "header");
});

Deno.test("columnIndexes: finds columns in any order, reports a missing one", () => {
  const table = parseCsv("label,id,text\nx,1,t\n", "t.csv");
  assertEquals(columnIndexes(table, ["id", "text", "label"], "t.csv"), [1, 2, 0]);
  const error = assertThrows(
    () => columnIndexes(parseCsv("id,txt\n1,a\n", "t.csv"), ["id", "text"], "t.csv"),
    CsvFormatError,
  );
  assertEquals(/missing column "text"/.test(error.message), true);
});
