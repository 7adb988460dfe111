/**
 * CSV reading through papaparse (RFC 4180: quoted fields, embedded commas, quotes and newlines,
 * LF or CRLF), with the row-level checks the loaders need.
 *
 * @module
 */

// @ts-types="@types/papaparse"
import Papa from "npm:papaparse@5.5.3";
import { CsvFormatError, InvalidOptionError } from "./errors.ts";

/** One CSV record. */
export interface CsvRecord {
  /** 1-based record number; the header is row 1. */
  row: number;
  /** 1-based line on which the record starts. */
  line: number;
  /** The record's fields. */
  fields: string[];
}

/** A parsed CSV file: its header and its data records. */
export interface CsvTable {
  /** Column names from the first record. */
  header: string[];
  /** Data records (after the header), empty lines skipped. */
  records: CsvRecord[];
}

/**
 * Parses CSV text whose first record is a header. Every record must have as many fields as the
 * header. `file` names the source in errors.
 *
 * @throws {CsvFormatError} no header, unbalanced quotes, or a record with the wrong field count.
 */
export function parseCsv(text: string, file: string): CsvTable {
  if (typeof text !== "string") {
    throw new InvalidOptionError("text", "the CSV file's text as a string", typeof text);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const parsed: CsvRecord[] = [];
  let failure: CsvFormatError | undefined;
  let previousCursor = 0;
  let line = 1;
  Papa.parse<string[]>(text, {
    delimiter: ",",
    quoteChar: '"',
    skipEmptyLines: true,
    step(result, parser) {
      const start = previousCursor;
      previousCursor = result.meta.cursor;
      // Skip the line breaks that precede the record (empty lines are not records).
      let recordStart = start;
      while (
        recordStart < text.length && (text[recordStart] === "\n" || text[recordStart] === "\r")
      ) {
        if (text[recordStart] === "\n") line++;
        recordStart++;
      }
      const recordLine = line;
      for (let i = recordStart; i < previousCursor; i++) if (text.charCodeAt(i) === 10) line++;
      const row = parsed.length + 1;
      if (result.errors.length > 0) {
        const error = result.errors[0];
        failure = new CsvFormatError(
          file,
          row,
          `${error.message} (line ${recordLine})`,
        );
        parser.abort();
        return;
      }
      parsed.push({ row, line: recordLine, fields: result.data });
    },
  });
  if (failure) throw failure;
  if (parsed.length === 0) throw new CsvFormatError(file, 0, "empty file: expected a header row");
  const [headerRecord, ...records] = parsed;
  const header = headerRecord.fields.map((name) => name.trim());
  for (const record of records) {
    if (record.fields.length !== header.length) {
      throw new CsvFormatError(
        file,
        record.row,
        `expected ${header.length} fields (${header.join(",")}), found ${record.fields.length} ` +
          `(line ${record.line})`,
      );
    }
  }
  return { header, records };
}

/**
 * Index of each of `columns` in `table.header`.
 *
 * @throws {CsvFormatError} a column is missing from the header.
 */
export function columnIndexes(table: CsvTable, columns: string[], file: string): number[] {
  return columns.map((column) => {
    const index = table.header.indexOf(column);
    if (index < 0) {
      throw new CsvFormatError(
        file,
        1,
        `missing column "${column}": expected header ${columns.join(",")}, found ${
          table.header.join(",")
        }`,
      );
    }
    return index;
  });
}
