/**
 * `deno task test [deno test arguments…]`: the README's test command. Prints the one-line doctor
 * report, provisions what the tests need (the browser tests' Chromium, see `provision.ts`), then
 * runs `deno test -A --quiet` with the extra arguments, streaming its output unchanged (CI reads its
 * final `ok | N passed | N failed` line) and exiting with its status. When provisioning is
 * impossible it prints one line saying which command to run and exits 1 without running the tests.
 *
 * Provisioning is skipped only when the paths given cannot include the browser tests (e.g.
 * `deno task test packages/tokenizer`).
 *
 * @module
 */
import { fileURLToPath } from "node:url";
import { doctorLine, doctorReport } from "./doctor.ts";
import { provisionChromium, ProvisionError, runsBrowserTests } from "./provision.ts";

const WEB_DIR = fileURLToPath(new URL("../web", import.meta.url));

/** The `deno test` command line this runner starts: the README's flags plus `args`. */
export function denoTestArgs(args: readonly string[]): string[] {
  return ["test", "-A", "--quiet", ...args];
}

async function main(args: readonly string[]): Promise<number> {
  try {
    console.log(doctorLine(await doctorReport()));
  } catch (e) {
    // The report is informative only; never let it stop the tests.
    console.log(`doctor: unavailable (${(e as Error).message})`);
  }
  if (runsBrowserTests(args, Deno.cwd(), WEB_DIR)) {
    try {
      await provisionChromium();
    } catch (e) {
      if (e instanceof ProvisionError) {
        console.error(`error: ${e.message}`);
        return 1;
      }
      throw e;
    }
  }
  const child = new Deno.Command(Deno.execPath(), {
    args: denoTestArgs(args),
    stdin: "inherit",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  // A child ended by a signal may report code 0: still a failure.
  return status.code !== 0 ? status.code : status.success ? 0 : 1;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
