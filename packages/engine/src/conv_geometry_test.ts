import { axisBand, axisGeometry, parsePadding } from "./conv_geometry.ts";
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

Deno.test("axisBand: a band of outputs covers the input cells its windows read, tap for tap", () => {
  let bands = 0;
  for (const padding of ["valid", "same"] as const) {
    for (let len = 1; len <= 13; len++) {
      for (const [k, stride, dilation] of [[1, 1, 1], [3, 1, 1], [3, 2, 1], [2, 3, 1], [3, 1, 2]]) {
        const g = axisGeometry(len, k, stride, dilation, padding);
        for (let out0 = 0; out0 < g.out; out0++) {
          for (let n = 1; out0 + n <= g.out; n++) {
            const band = axisBand(out0, n, len, k, stride, dilation, g.padBefore);
            // Input cells (inside the input) of each output's taps, whole axis vs the band.
            const cells = new Set<number>();
            for (let o = out0; o < out0 + n; o++) {
              for (let t = 0; t < k; t++) {
                const i = o * stride - g.padBefore + t * dilation;
                if (i >= 0 && i < len) cells.add(i);
                if (!band) continue;
                // The same tap in the band's call: its cell relative to band.start.
                const j = (o - out0) * stride - band.padBefore + t * dilation;
                const inside = j >= 0 && j < band.len;
                if (inside !== (i >= 0 && i < len) || (inside && j + band.start !== i)) {
                  throw new Error(`len ${len} k ${k} s ${stride} d ${dilation}: tap ${t} of ${o}`);
                }
              }
            }
            if (!band) {
              if (cells.size > 0) throw new Error(`len ${len}: band [${out0}, +${n}) reads cells`);
              continue;
            }
            const lo = Math.min(...cells), hi = Math.max(...cells);
            // Within the input, around every cell read (dilated taps may skip its first and last).
            const end = band.start + band.len;
            if (band.start < 0 || band.start > lo || hi >= end || end > len || band.padBefore < 0) {
              throw new Error(`len ${len} k ${k}: band ${JSON.stringify(band)} for [${lo}, ${hi}]`);
            }
            bands++;
          }
        }
      }
    }
  }
  if (bands < 1000) throw new Error(`only ${bands} bands checked`);
});
