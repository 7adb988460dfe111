import { axisGeometry, parsePadding } from "./conv_geometry.ts";
import { LayerConfigError } from "./errors.ts";

Deno.test("axisGeometry follows the Keras valid/same formulas (hand-computed cases)", () => {
  // [len, k, stride, dilation, padding, out, padBefore]
  const cases: [number, number, number, number, "valid" | "same", number, number][] = [
    [5, 3, 1, 1, "valid", 3, 0],
    [5, 3, 2, 1, "valid", 2, 0],
    [6, 3, 2, 1, "valid", 2, 0],
    [7, 3, 1, 2, "valid", 3, 0], // span 5
    [4, 5, 1, 1, "valid", 0, 0], // window does not fit
    [5, 3, 1, 1, "same", 5, 1], // pad 2: 1 before, 1 after
    [5, 3, 2, 1, "same", 3, 1], // out 3, pad (2*2+3-5)=2
    [6, 3, 2, 1, "same", 3, 0], // pad (2*2+3-6)=1: 0 before, 1 after
    [6, 2, 2, 1, "same", 3, 0], // pad 0
    [7, 3, 1, 3, "same", 7, 3], // span 7, pad 6
    [8, 4, 1, 1, "same", 8, 1], // pad 3: 1 before, 2 after
    [3, 5, 3, 1, "same", 1, 1], // pad (0+5-3)=2
  ];
  for (const [len, k, s, d, padding, out, padBefore] of cases) {
    const g = axisGeometry(len, k, s, d, padding);
    if (g.out !== out || g.padBefore !== padBefore) {
      throw new Error(
        `len=${len} k=${k} s=${s} d=${d} ${padding}: got ${g.out}/${g.padBefore}, want ${out}/${padBefore}`,
      );
    }
  }
});

Deno.test("parsePadding accepts valid/same in any case and refuses others by layer and field", () => {
  if (parsePadding("SAME", "l") !== "same" || parsePadding(undefined, "l") !== "valid") {
    throw new Error("padding parse");
  }
  try {
    parsePadding("causal", "conv_c");
  } catch (e) {
    if (e instanceof LayerConfigError && /conv_c.*padding.*causal/.test(e.message)) return;
    throw e;
  }
  throw new Error("causal accepted");
});
