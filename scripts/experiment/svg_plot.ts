/**
 * Dependency-free SVG charts for experiment reports: train/validation loss curves per variant,
 * and a confusion-matrix heat map. Output is a standalone SVG string.
 */

/** One line on a chart. */
export interface Series {
  label: string;
  values: number[];
  /** Dashed lines for validation curves. */
  dashed?: boolean;
  color?: string;
  /** Index of a point to mark with a dot (e.g. the epoch with the lowest validation loss). */
  marker?: number;
}

const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/** Palette colour for series group `i`. */
export function paletteColor(i: number): string {
  return PALETTE[i % PALETTE.length];
}

function esc(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step0 = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0;
  const out: number[] = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-12; v += step) {
    out.push(+v.toPrecision(10));
  }
  return out;
}

/** A line chart of per-epoch values (x = epoch 1..n). */
export function lineChart(
  title: string,
  series: Series[],
  options: { xLabel?: string; yLabel?: string; width?: number; height?: number } = {},
): string {
  const { xLabel = "epoch", yLabel = "loss", width = 720, height = 420 } = options;
  const m = { left: 64, right: 200, top: 40, bottom: 48 };
  const w = width - m.left - m.right, h = height - m.top - m.bottom;
  const all = series.flatMap((s) => s.values.filter(Number.isFinite));
  const maxLen = Math.max(1, ...series.map((s) => s.values.length));
  let lo = all.length ? Math.min(...all) : 0, hi = all.length ? Math.max(...all) : 1;
  if (hi === lo) {
    hi += 0.5;
    lo -= 0.5;
  }
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  const x = (i: number) => m.left + (maxLen === 1 ? w / 2 : (i / (maxLen - 1)) * w);
  const y = (v: number) => m.top + h - ((v - lo) / (hi - lo)) * h;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${m.left + w / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(title)
    }</text>`,
  ];
  for (const t of niceTicks(lo, hi)) {
    parts.push(
      `<line x1="${m.left}" x2="${m.left + w}" y1="${y(t)}" y2="${y(t)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 6}" y="${y(t) + 4}" text-anchor="end">${t}</text>`,
    );
  }
  const xt = niceTicks(1, maxLen, Math.min(10, maxLen)).filter(Number.isInteger);
  for (const t of xt) {
    parts.push(`<text x="${x(t - 1)}" y="${m.top + h + 18}" text-anchor="middle">${t}</text>`);
  }
  parts.push(
    `<rect x="${m.left}" y="${m.top}" width="${w}" height="${h}" fill="none" stroke="#333"/>`,
    `<text x="${m.left + w / 2}" y="${height - 10}" text-anchor="middle">${esc(xLabel)}</text>`,
    `<text transform="translate(16 ${m.top + h / 2}) rotate(-90)" text-anchor="middle">${
      esc(yLabel)
    }</text>`,
  );
  series.forEach((s, i) => {
    const color = s.color ?? paletteColor(i);
    const pts = s.values.map((
      v,
      j,
    ) => (Number.isFinite(v) ? `${x(j).toFixed(1)},${y(v).toFixed(1)}` : null))
      .filter((p) => p !== null);
    if (pts.length) {
      parts.push(
        `<polyline fill="none" stroke="${color}" stroke-width="2"${
          s.dashed ? ' stroke-dasharray="6 4"' : ""
        } points="${pts.join(" ")}"/>`,
      );
    }
    const mv = s.marker === undefined ? NaN : s.values[s.marker];
    if (Number.isFinite(mv)) {
      parts.push(
        `<circle class="marker" cx="${x(s.marker!).toFixed(1)}" cy="${
          y(mv).toFixed(1)
        }" r="4" fill="${color}"/>`,
      );
    }
    const ly = m.top + 8 + i * 18;
    parts.push(
      `<line x1="${m.left + w + 12}" x2="${
        m.left + w + 36
      }" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="2"${
        s.dashed ? ' stroke-dasharray="6 4"' : ""
      }/>`,
      `<text x="${m.left + w + 42}" y="${ly + 4}">${esc(s.label)}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}

/** A confusion-matrix heat map (rows = true class, columns = predicted). */
export function confusionMatrixChart(title: string, matrix: number[][], labels: string[]): string {
  const n = matrix.length;
  const cell = Math.max(36, Math.min(64, Math.floor(480 / Math.max(n, 1))));
  const m = { left: 110, top: 60, right: 20, bottom: 20 };
  // Wide enough for the title too (≈ 8.5 px per character at 15 px bold).
  const width = Math.max(m.left + n * cell + m.right, Math.ceil(title.length * 8.5) + 20);
  const height = m.top + n * cell + m.bottom + 30;
  const max = Math.max(1, ...matrix.flat());
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${
      esc(title)
    }</text>`,
    `<text x="${m.left + (n * cell) / 2}" y="42" text-anchor="middle">predicted</text>`,
  ];
  for (let i = 0; i < n; i++) {
    parts.push(
      `<text x="${m.left - 6}" y="${m.top + i * cell + cell / 2 + 4}" text-anchor="end">${
        esc(labels[i] ?? String(i))
      }</text>`,
      `<text x="${m.left + i * cell + cell / 2}" y="${
        m.top + n * cell + 16
      }" text-anchor="middle">${esc(labels[i] ?? String(i))}</text>`,
    );
    for (let j = 0; j < n; j++) {
      const v = matrix[i][j];
      const a = v / max;
      const fill = `rgb(${Math.round(255 - a * 200)},${Math.round(255 - a * 130)},255)`;
      parts.push(
        `<rect x="${m.left + j * cell}" y="${
          m.top + i * cell
        }" width="${cell}" height="${cell}" fill="${fill}" stroke="#999"/>`,
        `<text x="${m.left + j * cell + cell / 2}" y="${
          m.top + i * cell + cell / 2 + 4
        }" text-anchor="middle" fill="${a > 0.6 ? "white" : "black"}">${v}</text>`,
      );
    }
  }
  parts.push(
    `<text transform="translate(14 ${
      m.top + (n * cell) / 2
    }) rotate(-90)" text-anchor="middle">true</text>`,
    "</svg>",
  );
  return parts.join("\n");
}
