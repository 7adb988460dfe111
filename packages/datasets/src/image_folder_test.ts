import { join } from "node:path";
import { encode as encodePng } from "@cwasm/lodepng";
import jpeg from "jpeg-js";
import { zipSync } from "fflate";
import { CIFAR10_LABEL_NAMES } from "./cifar10.ts";
import { CorruptFileError, DatasetNotFoundError, InvalidOptionError } from "./errors.ts";
import { decodeImage, fromRgba, resizeImage } from "./image_decode.ts";
import { loadImageFolder } from "./image_folder.ts";
import { listZip, readZipEntries } from "./zip.ts";
import { assert, assertEquals, assertRejects } from "./test_assert.ts";
import { SHARED_DATA, tempDir } from "./test_util.ts";

/** An RGBA image whose pixel (x, y) is (10x + y, 20 + y, 200 - x, 255). */
function pattern(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      data.set([10 * x + y, 20 + y, 200 - x, 255], (y * width + x) * 4);
    }
  }
  return data;
}

function png(width: number, height: number, data = pattern(width, height)): Uint8Array {
  return encodePng({ width, height, data });
}

function jpg(width: number, height: number): Uint8Array {
  const data = pattern(width, height);
  return new Uint8Array(jpeg.encode({ width, height, data }, 95).data);
}

/** A 24-bit bottom-up BMP of the pattern. */
function bmp(width: number, height: number): Uint8Array {
  const rgba = pattern(width, height);
  const row = Math.ceil((width * 3) / 4) * 4;
  const out = new Uint8Array(54 + row * height);
  const view = new DataView(out.buffer);
  out.set([0x42, 0x4d]);
  view.setUint32(2, out.length, true);
  view.setUint32(10, 54, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, 24, true);
  view.setUint32(34, row * height, true);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const s = (y * width + x) * 4;
      const o = 54 + (height - 1 - y) * row + x * 3;
      out.set([rgba[s + 2], rgba[s + 1], rgba[s]], o);
    }
  }
  return out;
}

/** A 1×1 GIF whose only pixel is palette entry 0, red. */
const RED_GIF = Uint8Array.from([
  0x47,
  0x49,
  0x46,
  0x38,
  0x39,
  0x61,
  1,
  0,
  1,
  0,
  0x80,
  0,
  0,
  0xff,
  0,
  0,
  0,
  0,
  0,
  0x2c,
  0,
  0,
  0,
  0,
  1,
  0,
  1,
  0,
  0,
  2,
  2,
  0x44,
  0x01,
  0,
  0x3b,
]);

/** Writes `files` (relative path → bytes) under `dir`. */
async function writeTree(dir: string, files: Record<string, Uint8Array>) {
  for (const [rel, bytes] of Object.entries(files)) {
    await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
    await Deno.writeFile(join(dir, rel), bytes);
  }
}

/** Two classes with odd sizes, all four formats, nested images and junk Keras ignores. */
function fixtureTree(): Record<string, Uint8Array> {
  const text = new TextEncoder().encode("not an image");
  return {
    "readme.txt": text,
    "loose.png": png(3, 3), // beside the class folders: not in any class
    ".hidden/x.png": png(2, 2), // hidden folder: not a class
    "dogs/b.png": png(5, 3),
    "dogs/UPPER.JPG": jpg(7, 9),
    "dogs/notes.txt": text,
    "dogs/nested/deep.bmp": bmp(3, 2),
    "cats/a.png": png(4, 4),
    "cats/c.gif": RED_GIF,
    "cats/Thumbs.db": text,
  };
}

/** Keras's listing of fixtureTree(), shuffle off: classes sorted, os.walk order inside. */
const SORTED = ["cats/a.png", "cats/c.gif", "dogs/UPPER.JPG", "dogs/b.png", "dogs/nested/deep.bmp"];

Deno.test("loadImageFolder: Keras classes, file order, junk ignored, odd sizes resized", async () => {
  await using dir = await tempDir();
  await writeTree(join(dir.path, "data"), fixtureTree());
  const ds = await loadImageFolder(join(dir.path, "data"), {
    imageSize: [4, 4],
    shuffle: false,
    cacheDir: join(dir.path, "cache"),
  });
  assertEquals(ds.classNames, ["cats", "dogs"]);
  assertEquals(ds.shape, [5, 4, 4, 3]);
  assertEquals(ds.filePaths, SORTED.map((rel) => join(dir.path, "data", rel)));
  assertEquals(Array.from(ds.labels!), [0, 0, 1, 1, 1]);
  assertEquals(ds.targets, ds.labels);
  assertEquals(ds.fromCache, false);
  // cats/a.png is already 4×4: its pixels come back exactly.
  const first = ds.images.subarray(0, 48);
  assertEquals(Array.from(first.subarray(0, 6)), [0, 20, 200, 10, 20, 199]);
  assertEquals(Array.from(first.subarray(45, 48)), [33, 23, 197]);
  // The 1×1 red GIF stretched to 4×4 stays red.
  const gif = ds.images.subarray(48, 96);
  for (let p = 0; p < 16; p++) {
    assertEquals(Array.from(gif.subarray(p * 3, p * 3 + 3)), [255, 0, 0]);
  }

  // The second run reads the cache and gives the same bytes.
  const again = await loadImageFolder(join(dir.path, "data"), {
    imageSize: [4, 4],
    shuffle: false,
    cacheDir: join(dir.path, "cache"),
  });
  assertEquals(again.fromCache, true);
  assertEquals(again.images, ds.images);
});

Deno.test("loadImageFolder: label modes, classNames, grayscale and rgba", async () => {
  await using dir = await tempDir();
  await writeTree(dir.path, fixtureTree());
  const common = { imageSize: 2, shuffle: false, cache: false } as const;
  const categorical = await loadImageFolder(dir.path, { ...common, labelMode: "categorical" });
  assertEquals(Array.from(categorical.targets!), [1, 0, 1, 0, 0, 1, 0, 1, 0, 1]);
  const binary = await loadImageFolder(dir.path, { ...common, labelMode: "binary" });
  assert(binary.targets instanceof Float32Array);
  assertEquals(Array.from(binary.targets), [0, 0, 1, 1, 1]);
  const dogsOnly = await loadImageFolder(dir.path, { ...common, classNames: ["dogs"] });
  assertEquals(dogsOnly.shape[0], 3);
  assertEquals(Array.from(dogsOnly.labels!), [0, 0, 0]);
  const reversed = await loadImageFolder(dir.path, { ...common, classNames: ["dogs", "cats"] });
  assertEquals(Array.from(reversed.labels!), [0, 0, 0, 1, 1]);
  await assertRejects(
    () => loadImageFolder(dir.path, { ...common, classNames: ["birds"] }),
    InvalidOptionError,
    "birds",
  );
  const gray = await loadImageFolder(dir.path, { ...common, colorMode: "grayscale" });
  assertEquals(gray.shape, [5, 2, 2, 1]);
  // Red (255, 0, 0) → BT.601 luma 76.
  assertEquals(Array.from(gray.images.subarray(4, 8)), [76, 76, 76, 76]);
  const rgba = await loadImageFolder(dir.path, { ...common, colorMode: "rgba" });
  assertEquals(rgba.shape, [5, 2, 2, 4]);
  assertEquals(rgba.images[3], 255);
  const unlabelled = await loadImageFolder(dir.path, { ...common, labels: null });
  // labels=null lists every image below the folder, including the loose and hidden ones.
  assertEquals(unlabelled.shape[0], 7);
  assertEquals(unlabelled.labels, undefined);
});

Deno.test("resizeImage: tf.image.resize bilinear (half-pixel centres), nearest, crop", () => {
  const row = { width: 2, height: 1, channels: 1, data: Uint8Array.from([0, 100]) };
  assertEquals(Array.from(resizeImage(row, 1, 4)), [0, 25, 75, 100]);
  assertEquals(Array.from(resizeImage(row, 1, 4, { interpolation: "nearest" })), [0, 0, 100, 100]);
  // 2×4 → 2×2 with crop_to_aspect_ratio keeps the centre columns 1 and 2.
  const wide = {
    width: 4,
    height: 2,
    channels: 1,
    data: Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]),
  };
  assertEquals(Array.from(resizeImage(wide, 2, 2, { cropToAspectRatio: true })), [2, 3, 6, 7]);
  // Without the crop the whole width is squeezed: columns (0,1) and (2,3) averaged.
  assertEquals(Array.from(resizeImage(wide, 2, 2)), [2, 4, 6, 8]);
  // pad_to_aspect_ratio: 2×4 into 4×4 → fitted 2×4 (unchanged) between rows of zeros.
  assertEquals(Array.from(resizeImage(wide, 4, 4, { padToAspectRatio: true })), [
    0,
    0,
    0,
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    0,
    0,
    0,
    0,
  ]);
  // 2×4 into 3×3: fitted 1.5×3 → floor 1×3 at row floor(0.75) = 0, column 0.
  const padded = resizeImage(wide, 3, 3, { padToAspectRatio: true });
  assertEquals(Array.from(padded.subarray(3)), [0, 0, 0, 0, 0, 0]);
  const grey = fromRgba([9, 9, 9, 255], 1, 1, "grayscale");
  assertEquals(Array.from(grey.data), [9]);
});

Deno.test("loadImageFolder: NumPy-seeded shuffle and Keras's validation split", async () => {
  await using dir = await tempDir();
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 10; i++) files[`${i < 5 ? "a" : "b"}/${i}.png`] = png(1, 1 + i);
  await writeTree(dir.path, files);
  const common = { imageSize: 1, seed: 42, validationSplit: 0.2, cache: false } as const;
  const train = await loadImageFolder(dir.path, { ...common, subset: "training" });
  const val = await loadImageFolder(dir.path, { ...common, subset: "validation" });
  // np.random.RandomState(42).permutation(10) = [8 1 5 0 7 2 9 4 3 6]; the last 2 validate.
  const name = (path: string) => path.slice(dir.path.length + 1);
  assertEquals(
    train.filePaths.map(name),
    [8, 1, 5, 0, 7, 2, 9, 4].map((i) => `${i < 5 ? "a" : "b"}/${i}.png`),
  );
  assertEquals(val.filePaths.map(name), ["a/3.png", "b/6.png"]);
  assertEquals(Array.from(val.labels!), [0, 1]);
  const [bothTrain, bothVal] = await loadImageFolder(dir.path, { ...common, subset: "both" });
  assertEquals(bothTrain.filePaths, train.filePaths);
  assertEquals(bothVal.filePaths, val.filePaths);
  assertEquals(bothVal.images, val.images);
  await assertRejects(
    () => loadImageFolder(dir.path, { imageSize: 1, validationSplit: 0.2, subset: "training" }),
    InvalidOptionError,
    "seed",
  );
  await assertRejects(
    () => loadImageFolder(dir.path, { imageSize: 1, validationSplit: 0.2 }),
    InvalidOptionError,
    "subset",
  );
});

Deno.test("loadImageFolder: a zip of the folder reads the same as the folder", async () => {
  await using dir = await tempDir();
  const tree = fixtureTree();
  await writeTree(join(dir.path, "data"), tree);
  const entries: Record<string, [Uint8Array, { level: 0 | 6 }]> = {};
  // Some entries stored, some deflated, all under a top folder (as the CIFAR-10 zip).
  Object.entries(tree).forEach(([rel, bytes], i) => {
    entries[`top/${rel}`] = [bytes, { level: i % 2 === 0 ? 0 : 6 }];
  });
  const zipPath = join(dir.path, "data.zip");
  await Deno.writeFile(zipPath, zipSync(entries));
  const common = { imageSize: [3, 5] as [number, number], shuffle: false, cache: false };
  const fromDir = await loadImageFolder(join(dir.path, "data"), common);
  const fromZip = await loadImageFolder(zipPath, { ...common, root: "top" });
  assertEquals(fromZip.classNames, fromDir.classNames);
  assertEquals(fromZip.labels, fromDir.labels);
  assertEquals(fromZip.images, fromDir.images);
  assertEquals(fromZip.filePaths, SORTED.map((rel) => `${zipPath}:top/${rel}`));
  await assertRejects(
    () => loadImageFolder(zipPath, { ...common, root: "nothing" }),
    DatasetNotFoundError,
  );
});

Deno.test("loadImageFolder: a corrupt image is a CorruptFileError naming it, or skipped", async () => {
  await using dir = await tempDir();
  const tree = fixtureTree();
  const good = jpg(6, 6);
  tree["dogs/truncated.jpg"] = good.subarray(0, Math.floor(good.length / 2));
  tree["cats/garbage.png"] = new TextEncoder().encode("this is no PNG");
  await writeTree(dir.path, tree);
  const error = await assertRejects(
    () => loadImageFolder(dir.path, { imageSize: 2, shuffle: false, cache: false }),
    CorruptFileError,
  );
  assert(error.file.endsWith(join("cats", "garbage.png")), error.message);
  assert(error.message.includes("not a JPEG, PNG, GIF or BMP"), error.message);
  const seen: string[] = [];
  const ds = await loadImageFolder(dir.path, {
    imageSize: 2,
    shuffle: false,
    cacheDir: join(dir.path, "cache"),
    skipBadImages: true,
    onSkip: (file) => seen.push(file),
  });
  assertEquals(ds.shape[0], 5);
  assertEquals(ds.skipped.map((s) => s.file), seen);
  assertEquals(seen.map((f) => f.slice(dir.path.length + 1)), [
    join("cats", "garbage.png"),
    join("dogs", "truncated.jpg"),
  ]);
  assert(ds.skipped[1].reason.includes("JPEG"), ds.skipped[1].reason);
  await assertRejects(
    () => decodeImage(good.subarray(0, good.length - 40), "half.jpg"),
    CorruptFileError,
    "half.jpg",
  );
});

Deno.test("loadImageFolder: a tampered cache fails its checksum and is rebuilt", async () => {
  await using dir = await tempDir();
  await writeTree(join(dir.path, "data"), fixtureTree());
  const options = { imageSize: 3, shuffle: false, cacheDir: join(dir.path, "cache") } as const;
  const first = await loadImageFolder(join(dir.path, "data"), options);
  const cacheDir = join(dir.path, "cache", "image-folder");
  const [cacheFile] = [...Deno.readDirSync(cacheDir)].map((e) => join(cacheDir, e.name));
  const bytes = await Deno.readFile(cacheFile);
  bytes[bytes.length - 1] ^= 0xff;
  await Deno.writeFile(cacheFile, bytes);
  const warn = console.warn;
  const warnings: string[] = [];
  console.warn = (message: string) => warnings.push(message);
  try {
    const second = await loadImageFolder(join(dir.path, "data"), options);
    assertEquals(second.fromCache, false);
    assertEquals(second.images, first.images);
  } finally {
    console.warn = warn;
  }
  assert(warnings.some((w) => w.includes("checksum")), warnings.join("\n"));
});

Deno.test("loadImageFolder: links as os.walk sees them (followlinks=False)", async () => {
  await using dir = await tempDir();
  await writeTree(join(dir.path, "elsewhere"), { "x/one.png": png(2, 2), "two.png": png(2, 2) });
  await writeTree(join(dir.path, "data"), { "cats/a.png": png(2, 2) });
  // A linked class folder is a class; a linked folder inside a class is not entered; a linked
  // file is a file; a broken link is listed and fails to read.
  await Deno.symlink(join(dir.path, "elsewhere", "x"), join(dir.path, "data", "linked"));
  await Deno.symlink(join(dir.path, "elsewhere", "x"), join(dir.path, "data", "cats", "sub"));
  await Deno.symlink(
    join(dir.path, "elsewhere", "two.png"),
    join(dir.path, "data", "cats", "b.png"),
  );
  const common = { imageSize: 2, shuffle: false, cache: false } as const;
  const ds = await loadImageFolder(join(dir.path, "data"), common);
  assertEquals(ds.classNames, ["cats", "linked"]);
  assertEquals(ds.filePaths.map((p) => p.slice(dir.path.length + 6)), [
    join("cats", "a.png"),
    join("cats", "b.png"),
    join("linked", "one.png"),
  ]);
  await Deno.symlink(join(dir.path, "nowhere.png"), join(dir.path, "data", "cats", "c.png"));
  await assertRejects(
    () => loadImageFolder(join(dir.path, "data"), common),
    CorruptFileError,
    "c.png",
  );
  const skipping = await loadImageFolder(join(dir.path, "data"), {
    ...common,
    skipBadImages: true,
    onSkip: () => {},
  });
  assertEquals(skipping.shape[0], 3);
  assertEquals(skipping.skipped.length, 1);
});

const CIFAR_ZIP = join(SHARED_DATA, "cifar-10-jpeg", "cifar-10-jpeg.zip");
const hasCifarZip = (() => {
  try {
    return Deno.statSync(CIFAR_ZIP).isFile;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "shared CIFAR-10 JPEG zip: 50,000 + 10,000 images, Keras's class order, a decode per class",
  ignore: !hasCifarZip,
  async fn() {
    const entries = await listZip(CIFAR_ZIP);
    for (const [split, perClass] of [["train", 5000], ["test", 1000]] as const) {
      const prefix = `cifar-10-jpeg/${split}/`;
      const images = entries.filter((e) => e.name.startsWith(prefix) && e.name.endsWith(".jpg"));
      assertEquals(images.length, perClass * 10);
      const counts = new Map<string, number>();
      for (const e of images) {
        const cls = e.name.slice(prefix.length).split("/")[0];
        counts.set(cls, (counts.get(cls) ?? 0) + 1);
      }
      // Keras's class ids are the sorted folder names: CIFAR-10's own label order.
      assertEquals([...counts.keys()].sort(), [...CIFAR10_LABEL_NAMES]);
      for (const count of counts.values()) assertEquals(count, perClass);
      // Decode the first image of each class.
      const firsts = CIFAR10_LABEL_NAMES.map((cls) =>
        images.find((e) => e.name.startsWith(`${prefix}${cls}/`))!
      );
      const decoded: number[] = [];
      await readZipEntries(CIFAR_ZIP, firsts, async (i, bytes) => {
        const image = await decodeImage(bytes, firsts[i].name);
        assertEquals([image.height, image.width, image.channels], [32, 32, 3]);
        decoded.push(i);
      });
      assertEquals(decoded.sort(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    }
  },
});

Deno.test("resizeImage: writes at an offset of a shared buffer", () => {
  const image = { width: 2, height: 1, channels: 1, data: Uint8Array.from([0, 100]) };
  const out = new Uint8Array(9).fill(1);
  resizeImage(image, 1, 2, {}, out, 2); // same size: a copy
  resizeImage(image, 1, 4, {}, out, 5); // resized
  assertEquals(Array.from(out), [1, 1, 0, 100, 1, 0, 25, 75, 100]);
});

Deno.test("loadImageFolder: decoding on Workers gives the same bytes, errors and skips", async () => {
  await using dir = await tempDir();
  const tree = fixtureTree();
  for (let i = 0; i < 300; i++) {
    tree[`cats/many/${String(i).padStart(3, "0")}.png`] = png(3, 5 + (i % 4));
  }
  await writeTree(dir.path, tree);
  const common = { imageSize: [4, 6] as [number, number], seed: 3, cache: false } as const;
  const inThread = await loadImageFolder(dir.path, { ...common, workers: 0 });
  const onWorkers = await loadImageFolder(dir.path, { ...common, workers: 2 });
  assertEquals(onWorkers.shape, [305, 4, 6, 3]);
  assertEquals(onWorkers.filePaths, inThread.filePaths);
  assertEquals(onWorkers.images, inThread.images);

  const good = jpg(6, 6);
  await Deno.writeFile(join(dir.path, "dogs", "bad1.jpg"), good.subarray(0, 100));
  await Deno.writeFile(join(dir.path, "cats", "many", "150.png"), new Uint8Array(10));
  const error = await assertRejects(
    () => loadImageFolder(dir.path, { ...common, workers: 2 }),
    CorruptFileError,
  );
  // The first bad file in Keras's listing order is the one reported.
  assert(error.file.endsWith(join("cats", "many", "150.png")), error.message);
  const skipping = { ...common, skipBadImages: true, onSkip: () => {} } as const;
  const a = await loadImageFolder(dir.path, { ...skipping, workers: 0 });
  const b = await loadImageFolder(dir.path, { ...skipping, workers: 2 });
  assertEquals(b.skipped, a.skipped);
  assertEquals(b.images, a.images);
  assertEquals(b.shape[0], 304);
});

Deno.test("loadImageFolder: explicit labels and labelMode null, as Keras", async () => {
  await using dir = await tempDir();
  await writeTree(dir.path, fixtureTree());
  const common = { imageSize: 2, shuffle: false, cache: false } as const;
  // labels=null / explicit lists index the whole folder: 7 images (loose and hidden included).
  const explicit = [0, 3, 3, 0, 3, 0, 3];
  const ds = await loadImageFolder(dir.path, {
    ...common,
    labels: explicit,
    labelMode: "categorical",
  });
  assertEquals(ds.classNames, ["0", "3"]);
  assertEquals(Array.from(ds.labels!), explicit);
  // tf.one_hot(3, 2) is all zeros: the label is kept, the row is empty.
  assertEquals(Array.from(ds.targets!.subarray(0, 4)), [1, 0, 0, 0]);
  await assertRejects(
    () => loadImageFolder(dir.path, { ...common, labels: [0, 1] }),
    InvalidOptionError,
    "7 labels",
  );
  await assertRejects(
    () => loadImageFolder(dir.path, { ...common, labels: [0, 1], classNames: ["a"] }),
    InvalidOptionError,
    "classNames",
  );
  const none = await loadImageFolder(dir.path, { ...common, labelMode: null });
  assertEquals(none.labels, undefined);
  assertEquals(none.targets, undefined);
  assertEquals(none.shape[0], 7);
});
