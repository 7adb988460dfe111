import { assert, assertEquals, assertThrows } from "./test_assert.ts";
import {
  compareUtf8,
  loadVocabularyFile,
  sortByCountThenBytesDescending,
  VocabularyError,
} from "./mod.ts";

function compareBytes(a: string, b: string): number {
  const x = new TextEncoder().encode(a);
  const y = new TextEncoder().encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] - y[i];
  }
  return x.length - y.length;
}

Deno.test("compareUtf8 is UTF-8 byte order, not UTF-16 code unit order", () => {
  // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) in bytes, after it in UTF-16.
  assert(compareUtf8("Ａ", "😀") < 0);
  assert("Ａ" > "😀", "JavaScript's own comparison disagrees, hence compareUtf8");
  assert(compareUtf8("\uffff", "\u{10000}") < 0);
  assert(compareUtf8("\ue000", "\ud7ff") > 0);
  assert(compareUtf8("ab", "abc") < 0);
  assertEquals(compareUtf8("é", "é"), 0);

  const alphabet = [
    "a",
    "z",
    "é",
    "\u07ff",
    "\u0800",
    "\ud7ff",
    "\ue000",
    "Ａ",
    "\uffff",
    "😀",
    "\u{10000}",
    "\u{10ffff}",
  ];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const word = () =>
    Array.from(
      { length: Math.floor(random() * 4) },
      () => alphabet[Math.floor(random() * alphabet.length)],
    )
      .join("");
  for (let trial = 0; trial < 3000; trial++) {
    const a = word();
    const b = word();
    assertEquals(Math.sign(compareUtf8(a, b)), Math.sign(compareBytes(a, b)), `${a} vs ${b}`);
  }
});

Deno.test("sort: count descending, ties by bytes descending", () => {
  const tokens = ["z", "é", "😀", "Ａ", "apple", "b", "a"];
  const counts = [1, 1, 1, 1, 3, 2, 2];
  const order = sortByCountThenBytesDescending(tokens, counts).map((i) => tokens[i]);
  assertEquals(order, ["apple", "b", "a", "😀", "Ａ", "é", "z"]);
});

Deno.test("loadVocabularyFile: LF, CRLF, CR, trailing newlines and BOM", () => {
  const expected = ["", "[UNK]", "yang", "di"];
  assertEquals(loadVocabularyFile("\n[UNK]\nyang\ndi"), expected);
  assertEquals(loadVocabularyFile("\r\n[UNK]\r\nyang\r\ndi\r\n"), expected);
  assertEquals(loadVocabularyFile("\r[UNK]\ryang\rdi\n\n"), expected);
  assertEquals(loadVocabularyFile("\ufeff\n[UNK]\nyang\ndi\n"), expected);
  assertEquals(loadVocabularyFile(new TextEncoder().encode("\r\n[UNK]\r\nyang\r\ndi")), expected);
  assertEquals(loadVocabularyFile("foo\nbar\nbaz\n"), ["foo", "bar", "baz"]);
  // Unicode line separators are token characters, not line ends.
  assertEquals(loadVocabularyFile("a\u2028b\nc\u0085d"), ["a\u2028b", "c\u0085d"]);
});

Deno.test("loadVocabularyFile: empty or non-UTF-8 files are refused", () => {
  assertThrows(() => loadVocabularyFile("\n\r\n"), VocabularyError, "no tokens");
  assertThrows(
    () => loadVocabularyFile(new Uint8Array([0x61, 0x0a, 0xe9, 0x0a]), "vocab.txt"),
    VocabularyError,
    "vocab.txt: the vocabulary file is not valid UTF-8",
  );
});
