import { confusionMatrixChart, lineChart } from "./svg_plot.ts";

Deno.test("lineChart draws one polyline per series with finite points and escapes labels", () => {
  const svg = lineChart("loss <A&B>", [
    { label: "train", values: [1, 0.5, 0.25] },
    { label: "val", values: [1.2, NaN, 0.4], dashed: true },
  ]);
  if (!svg.startsWith("<svg")) throw new Error("not svg");
  if ((svg.match(/<polyline/g) ?? []).length !== 2) throw new Error("expected 2 polylines");
  if (!svg.includes("loss &lt;A&amp;B&gt;")) throw new Error("title not escaped");
  const val = svg.match(/stroke-dasharray="6 4" points="([^"]+)"/);
  if (!val || val[1].split(" ").length !== 2) throw new Error("NaN point should be skipped");
});

Deno.test("confusionMatrixChart writes every count", () => {
  const svg = confusionMatrixChart("cm", [[5, 1], [2, 7]], ["neg", "pos"]);
  for (const v of [">5<", ">1<", ">2<", ">7<", ">neg<", ">pos<"]) {
    if (!svg.includes(v)) throw new Error(`missing ${v}`);
  }
});

Deno.test("confusionMatrixChart is wide enough for a long title", () => {
  const title = "A long model label, 3 conv, filters 32-64-128: test confusion matrix";
  const svg = confusionMatrixChart(title, [[1, 0], [0, 1]], ["a", "b"]);
  const width = Number(svg.match(/width="(\d+)"/)![1]);
  if (!(width >= title.length * 8)) throw new Error(`width ${width} for ${title.length} chars`);
});

Deno.test("lineChart marks the requested point of a series", () => {
  const svg = lineChart("m", [{ label: "val", values: [3, 1, 2], marker: 1 }, {
    label: "t",
    values: [1],
    marker: 5,
  }]);
  if ((svg.match(/class="marker"/g) ?? []).length !== 1) throw new Error("expected one marker");
});
