import { createProgress } from "./progress.ts";
import { assert, assertEquals } from "./test_assert.ts";

Deno.test("progress: disabled (not a terminal) writes nothing", () => {
  const written: string[] = [];
  const bar = createProgress("x", 100, { enabled: false, write: (text) => written.push(text) });
  bar.add(50);
  bar.done();
  assertEquals(written, []);
  assertEquals(bar.enabled, false);
});

Deno.test("progress: enabled draws a bar with percent and ends the line", () => {
  const written: string[] = [];
  const bar = createProgress("download", 4e6, {
    enabled: true,
    intervalMs: 0,
    write: (text) => written.push(text),
  });
  bar.add(1e6);
  bar.add(3e6);
  bar.done();
  bar.done();
  assert(written[0].includes("download ["));
  assert(written[0].includes(" 25% 1.0 MB/4.0 MB"), written[0]);
  assert(written.at(-2)!.includes("100% 4.0 MB/4.0 MB"), written.at(-2));
  assertEquals(written.at(-1), "\n");
  assertEquals(written.filter((text) => text === "\n").length, 1);
});

Deno.test("progress: unknown total shows the count only", () => {
  const written: string[] = [];
  const bar = createProgress("read", undefined, {
    enabled: true,
    unit: "items",
    write: (text) => written.push(text),
  });
  bar.add(7);
  bar.done();
  assert(written.at(-2)!.endsWith("read 7"), written.at(-2));
});
