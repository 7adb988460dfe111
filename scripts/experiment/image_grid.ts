/**
 * Grayscale image grids for experiment reports without an image library: a minimal PNG encoder
 * (8-bit grayscale, zlib through fflate, CRC-32 per chunk) and an SVG that embeds the PNG as a
 * data URI with row labels.
 */
import { zlibSync } from "fflate";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (ISO-HDLC, as PNG uses) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * An 8-bit grayscale PNG of `pixels` (row-major, `width × height`, values in [0, 1], clamped).
 *
 * @throws {RangeError} `pixels` does not hold `width × height` values.
 */
export function encodeGrayPng(
  pixels: ArrayLike<number>,
  width: number,
  height: number,
): Uint8Array {
  if (pixels.length !== width * height || width < 1 || height < 1) {
    throw new RangeError(`encodeGrayPng: ${pixels.length} values for ${width}×${height}`);
  }
  const raw = new Uint8Array((width + 1) * height);
  for (let y = 0; y < height; y++) {
    raw[y * (width + 1)] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const v = pixels[y * width + x];
      raw[y * (width + 1) + 1 + x] = Math.round(255 * Math.min(1, Math.max(0, v || 0)));
    }
  }
  const header = new Uint8Array(13);
  const hv = new DataView(header.buffer);
  hv.setUint32(0, width);
  hv.setUint32(4, height);
  header[8] = 8; // bit depth
  header[9] = 0; // grayscale
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", zlibSync(raw)),
    chunk("IEND", new Uint8Array(0)),
  ];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Tiles rows of equally sized grayscale images into one image (`gap` pixels of white between
 * them): `rows[r][c]` is an `h × w` image.
 */
export function tile(
  rows: Float32Array[][],
  h: number,
  w: number,
  gap = 2,
): { pixels: Float32Array; width: number; height: number } {
  const cols = Math.max(0, ...rows.map((r) => r.length));
  const width = cols * w + (cols + 1) * gap, height = rows.length * h + (rows.length + 1) * gap;
  const pixels = new Float32Array(width * height).fill(1);
  rows.forEach((row, r) =>
    row.forEach((img, c) => {
      const x0 = gap + c * (w + gap), y0 = gap + r * (h + gap);
      for (let y = 0; y < h; y++) {
        for (let x = 0; x < w; x++) pixels[(y0 + y) * width + x0 + x] = img[y * w + x];
      }
    })
  );
  return { pixels, width, height };
}

function base64(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(s);
}

/**
 * An SVG showing `png` (scaled by `scale`, pixelated) with a label left of each of its image
 * rows (`rowLabels`, rows of height `rowHeight` source pixels after a `gap`-pixel border).
 */
export function pngGridSvg(
  png: Uint8Array,
  size: { width: number; height: number },
  rowLabels: string[],
  rowHeight: number,
  title: string,
  scale = 3,
  gap = 2,
): string {
  const left = 150, top = 34;
  const w = size.width * scale, h = size.height * scale;
  const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${left + w + 10}" height="${top + h + 10}" ` +
    `viewBox="0 0 ${left + w + 10} ${top + h + 10}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">${esc(title)}</text>`,
    `<image x="${left}" y="${top}" width="${w}" height="${h}" style="image-rendering:pixelated" ` +
    `preserveAspectRatio="none" href="data:image/png;base64,${base64(png)}"/>`,
  ];
  rowLabels.forEach((label, r) => {
    const y = top + (gap + r * (rowHeight + gap) + rowHeight / 2) * scale + 4;
    parts.push(`<text x="${left - 8}" y="${y}" text-anchor="end">${esc(label)}</text>`);
  });
  parts.push("</svg>");
  return parts.join("\n");
}
