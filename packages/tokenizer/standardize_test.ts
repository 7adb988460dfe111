import { assertEquals } from "./test_assert.ts";
import {
  ASCII_PUNCTUATION,
  lowerAscii,
  splitCharacters,
  splitWhitespace,
  splitWhitespaceStandardized,
  standardizeText,
  stripAsciiPunctuation,
} from "./mod.ts";

Deno.test("lowerAscii lowers A-Z only: accented and other non-ASCII capitals stay", () => {
  assertEquals(lowerAscii("ÉCOLE École"), "École École");
  assertEquals(lowerAscii("ÀÖ ΣΑΣ ДОМ İSTANBUL"), "ÀÖ ΣΑΣ ДОМ İstanbul");
  assertEquals(lowerAscii("ＡＢＣ Straße ß"), "ＡＢＣ straße ß");
  assertEquals(lowerAscii("no capitals"), "no capitals");
  assertEquals(lowerAscii("AZ[@`{"), "az[@`{");
});

Deno.test("the 32 ASCII punctuation characters are exactly what is stripped", () => {
  assertEquals(ASCII_PUNCTUATION.length, 32);
  const ascii = Array.from({ length: 128 }, (_, c) => String.fromCharCode(c)).join("");
  const expectedKept = ascii.split("").filter((c) => {
    const code = c.charCodeAt(0);
    const isPunctuation = (code >= 33 && code <= 47) || (code >= 58 && code <= 64) ||
      (code >= 91 && code <= 96) || (code >= 123 && code <= 126);
    return !isPunctuation;
  }).join("");
  assertEquals(stripAsciiPunctuation(ascii), expectedKept);
  // Non-ASCII punctuation and symbols are not in the set.
  const unicodePunctuation = "¡¿…—–“”‘’«»·•§©€";
  assertEquals(stripAsciiPunctuation(unicodePunctuation + "!"), unicodePunctuation);
});

Deno.test("standardizeText: each built-in mode", () => {
  const text = "Hello, WORLD! Déjà-vu 😀 #1";
  assertEquals(standardizeText(text, "lower"), "hello, world! déjà-vu 😀 #1");
  assertEquals(standardizeText(text, "strip_punctuation"), "Hello WORLD Déjàvu 😀 1");
  assertEquals(standardizeText(text, "lower_and_strip_punctuation"), "hello world déjàvu 😀 1");
});

Deno.test("whitespace split: ASCII whitespace only, U+00A0 and other Unicode spaces are not separators", () => {
  assertEquals(splitWhitespace("  a\tb\nc\vd\fe\rf  "), ["a", "b", "c", "d", "e", "f"]);
  assertEquals(splitWhitespace("a\u00a0b c"), ["a\u00a0b", "c"]);
  assertEquals(splitWhitespace("a\u2003b\u3000c\u200bd\u0085e"), ["a\u2003b\u3000c\u200bd\u0085e"]);
  assertEquals(splitWhitespace(""), []);
  assertEquals(splitWhitespace(" \t\r\n "), []);
});

Deno.test("character split: Unicode code points, spaces included, surrogate pairs kept", () => {
  assertEquals(splitCharacters("a 🍕é"), ["a", " ", "🍕", "é"]);
  // A combining mark is its own code point, as tf.strings.unicode_split gives it.
  assertEquals(splitCharacters("e\u0301"), ["e", "\u0301"]);
  assertEquals(splitCharacters("❤️"), ["❤", "\ufe0f"]);
});

Deno.test("fused standardize+split equals standardize then split, on random text", () => {
  const alphabet = [
    ..."aZqM09 \t\n\v\f\r",
    ...ASCII_PUNCTUATION,
    "É",
    "ß",
    "\u00a0",
    "\u2003",
    "😀",
    "Ｑ",
    "\u0301",
  ];
  let seed = 12345;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let trial = 0; trial < 2000; trial++) {
    const length = Math.floor(random() * 24);
    let text = "";
    for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
    for (
      const [lower, strip, mode] of [
        [true, true, "lower_and_strip_punctuation"],
        [true, false, "lower"],
        [false, true, "strip_punctuation"],
      ] as const
    ) {
      const expected = splitWhitespace(standardizeText(text, mode));
      assertEquals(splitWhitespaceStandardized(text, lower, strip), expected, JSON.stringify(text));
    }
    assertEquals(splitWhitespaceStandardized(text, false, false), splitWhitespace(text));
  }
});

Deno.test("a token made only of punctuation disappears; inner punctuation joins the pieces", () => {
  assertEquals(splitWhitespaceStandardized("a - b ... c.d (E)", true, true), ["a", "b", "cd", "e"]);
});
