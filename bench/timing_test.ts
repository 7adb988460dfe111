/**
 * The bench's time box (issue 18: a stuck ONNX Runtime call hung `bench:report`): a promise that
 * never settles is reported as timed out, an interleaved contender that passes its time box or
 * throws is dropped and named, and the others are still measured. No timing assertions.
 */
import assert from "node:assert/strict";
import { type Contender, interleaved, timeBox, timedOutText } from "./timing.ts";

const never = () => new Promise<never>(() => {});

Deno.test("timeBox: a promise that never settles is reported as timed out", async () => {
  assert.deepEqual(await timeBox(never(), 5), { ok: false, timedOutMs: 5 });
});

Deno.test("timeBox: a settled promise gives its value; a rejection propagates", async () => {
  assert.deepEqual(await timeBox(Promise.resolve(42), 60_000), { ok: true, value: 42 });
  await assert.rejects(timeBox(Promise.reject(new Error("boom")), 60_000), /boom/);
});

Deno.test("timedOutText: seconds as the report writes them", () => {
  assert.equal(timedOutText(120_000), "timed out after 120 s");
  assert.equal(timedOutText(2_500), "timed out after 2.5 s");
  assert.equal(timedOutText(10), "timed out after 0.01 s");
});

Deno.test("interleaved: a contender stuck in a call is dropped, abandoned once, the others measured", async () => {
  let abandoned = 0, calls = 0;
  const contenders: Contender[] = [
    { name: "engine", run: () => void calls++, budgetMs: 0, minCalls: 2, warmupMs: 0 },
    {
      name: "stuck",
      sample: () => never(),
      budgetMs: 0,
      minCalls: 2,
      warmupMs: 0,
      timeLimitMs: 5,
      abandon: () => void abandoned++,
    },
  ];
  const { samples, failures } = await interleaved(contenders, 3);
  assert.equal(samples.get("engine")!.length, 3 * 2);
  assert.equal(calls, 1 + 3 * 2); // the warm-up's call and 2 per round
  assert.equal(samples.has("stuck"), false);
  assert.deepEqual([...failures], [["stuck", "timed out after 0.005 s (warm-up)"]]);
  assert.equal(abandoned, 1);
});

Deno.test("interleaved: a time-boxed contender that throws in a later round loses its samples", async () => {
  let round = 0;
  const { samples, failures } = await interleaved([
    {
      name: "flaky",
      sample: () => ++round === 2 ? Promise.reject(new Error("worker died")) : Promise.resolve([1]),
      budgetMs: 0,
      timeLimitMs: 60_000,
    },
  ], 3);
  assert.equal(samples.has("flaky"), false);
  assert.equal(failures.get("flaky"), "failed (round 2): worker died");
  assert.equal(round, 2); // not asked again after it failed
});

Deno.test("interleaved: without a time box an error still stops the comparison", async () => {
  await assert.rejects(
    interleaved([{ name: "x", sample: () => Promise.reject(new Error("boom")), budgetMs: 0 }], 1),
    /boom/,
  );
});

Deno.test("interleaved: settle runs before every timed round, after the warm-ups", async () => {
  const events: string[] = [];
  const contender = (name: string): Contender => ({
    name,
    run: () => void events.push(name),
    budgetMs: 0,
    minCalls: 1,
    maxCalls: 1,
    warmupMs: 0,
  });
  await interleaved([contender("a"), contender("b")], 2, () => {
    events.push("settle");
    return Promise.resolve();
  });
  // Warm-ups (one call each) first; then each timed call right after a settle.
  const expected = ["a", "b", "settle", "a", "settle", "b", "settle", "a", "settle", "b"];
  if (events.join() !== expected.join()) throw new Error(events.join());
});
