/**
 * The demo, experiments and benches use TF.js through `packages/engine/testing/tfjs_reference.ts`,
 * which must keep TF.js's "install our node backend" banner out of the terminal: the cpu backend
 * still has the flag that prints it (a TF.js upgrade that renames it fails here), and creating
 * tensors prints nothing.
 */
import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { silenceTfjsNodeBanner, tf, tfReady } from "../packages/engine/testing/tfjs_reference.ts";

Deno.test("TF.js prints no tfjs-node banner in Deno", async () => {
  const printed: string[] = [];
  const { warn, log } = console;
  console.warn = (...args: unknown[]) => printed.push(args.join(" "));
  console.log = (...args: unknown[]) => printed.push(args.join(" "));
  try {
    await tfReady();
    assertEquals(tf.getBackend(), "cpu");
    const sum = tf.tidy(() => tf.add(tf.tensor([1, 2]), tf.tensor([3, 4])).dataSync());
    assertEquals(Array.from(sum), [4, 6]);
  } finally {
    console.warn = warn;
    console.log = log;
  }
  assert(silenceTfjsNodeBanner(), "TF.js's cpu backend no longer has its firstUse flag");
  assertEquals(printed.filter((line) => /tfjs-node|node backend/.test(line)), []);
});
