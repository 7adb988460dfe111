import { setKernelThreads } from "../packages/engine/mod.ts";
import { coresFree, settledCores } from "./core_probe.ts";

Deno.test("coresFree, settledCores: 1 with the kernel threads off; with 2 threads a share of 2 cores", async () => {
  if (coresFree() !== 1 || await settledCores() !== 1) throw new Error("one thread must report 1");
  const threads = setKernelThreads(2);
  try {
    const cores = Math.max(coresFree(), await settledCores(100));
    // A shared machine may give the second thread anything from nothing to a whole core, but
    // two loops at once never take less than the time of one, nor more than twice it by far.
    if (threads === 2 && !(cores > 0.4 && cores <= 2)) throw new Error(`cores free ${cores}`);
    if (threads === 1 && cores !== 1) throw new Error(`no threads, yet cores free ${cores}`);
  } finally {
    setKernelThreads(1);
  }
});
