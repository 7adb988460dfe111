/**
 * The test runner's provisioning decisions with a fake machine: a present browser → nothing runs;
 * root with apt-get → the apt-get commands run and the binary is checked; no way to install → one
 * line naming the command. Also which `deno test` arguments include the browser tests.
 */
import { deepStrictEqual as assertEquals, ok as assert, rejects } from "node:assert/strict";
import {
  CHROMIUM_INSTALL_COMMANDS,
  type ChromiumFacts,
  planChromium,
  provisionChromium,
  ProvisionError,
  runsBrowserTests,
} from "./provision.ts";
import { denoTestArgs } from "./test.ts";

const MISSING: ChromiumFacts = {
  path: "/usr/bin/chromium",
  overridden: false,
  present: false,
  root: true,
  aptGet: true,
};

/** A fake machine recording the commands run and the lines logged. */
function fakeMachine(options: { code?: number; installs?: boolean } = {}) {
  const ran: string[][] = [];
  const lines: string[] = [];
  let installed = false;
  return {
    ran,
    lines,
    options: {
      run: (command: readonly string[], env: Readonly<Record<string, string>>) => {
        assertEquals(env.DEBIAN_FRONTEND, "noninteractive");
        ran.push([...command]);
        if (command.includes("install") && (options.code ?? 0) === 0) {
          installed = options.installs ?? true;
        }
        return Promise.resolve({
          code: options.code ?? 0,
          output: options.code
            ? "Reading package lists...\nE: Unable to locate package chromium\n"
            : "",
        });
      },
      exists: () => Promise.resolve(installed),
      log: (line: string) => lines.push(line),
      now: () => 0,
    },
  };
}

Deno.test("planChromium: present → nothing to do", () => {
  assertEquals(planChromium({ ...MISSING, present: true }), {
    action: "none",
    path: "/usr/bin/chromium",
  });
  assertEquals(
    planChromium({ ...MISSING, present: true, root: false, aptGet: false }).action,
    "none",
  );
});

Deno.test("planChromium: missing, root with apt-get → apt-get update, then install chromium", () => {
  const plan = planChromium(MISSING);
  assert(plan.action === "install");
  assertEquals(plan.commands.map((c) => [c[0], c[1]]), [["apt-get", "update"], [
    "apt-get",
    "install",
  ]]);
  assertEquals(plan.commands[1].at(-1), "chromium");
  assert(plan.commands[1].includes("-y"));
});

Deno.test("planChromium: missing and cannot install → one line naming the command", () => {
  const notRoot = planChromium({ ...MISSING, root: false });
  assert(notRoot.action === "fail");
  assert(notRoot.message.includes('"sudo apt-get update && sudo apt-get install -y chromium"'));
  const noApt = planChromium({ ...MISSING, aptGet: false });
  assert(noApt.action === "fail");
  assert(
    noApt.message.includes("SCRATCHNET_CHROMIUM=/path/to/chromium npx -y deno@2.9.6 task test"),
  );
  const overridden = planChromium({ ...MISSING, path: "/opt/chrome", overridden: true });
  assert(overridden.action === "fail");
  assert(overridden.message.startsWith("SCRATCHNET_CHROMIUM=/opt/chrome does not exist"));
  for (const plan of [notRoot, noApt, overridden]) assert(!plan.message.includes("\n"));
});

Deno.test("provisionChromium: present → runs nothing, logs nothing", async () => {
  const machine = fakeMachine();
  const path = await provisionChromium({
    facts: { ...MISSING, present: true },
    ...machine.options,
  });
  assertEquals(path, "/usr/bin/chromium");
  assertEquals(machine.ran, []);
  assertEquals(machine.lines, []);
});

Deno.test("provisionChromium: root with apt-get → installs, with progress lines", async () => {
  const machine = fakeMachine();
  const path = await provisionChromium({ facts: MISSING, ...machine.options });
  assertEquals(path, "/usr/bin/chromium");
  assertEquals(machine.ran, CHROMIUM_INSTALL_COMMANDS.map((c) => [...c]));
  assertEquals(machine.lines.length, 2);
  assert(machine.lines[0].startsWith("provision: Chromium for the browser tests is missing"));
  assertEquals(machine.lines[1], "provision: Chromium installed at /usr/bin/chromium (0 s)");
});

Deno.test("provisionChromium: neither root nor apt-get → ProvisionError, nothing run", async () => {
  const machine = fakeMachine();
  await rejects(
    provisionChromium({ facts: { ...MISSING, root: false, aptGet: false }, ...machine.options }),
    (e: unknown) => e instanceof ProvisionError && /there is no apt-get/.test(e.message),
  );
  assertEquals(machine.ran, []);
});

Deno.test("provisionChromium: a failing apt-get or a still-missing binary → one-line error", async () => {
  const failing = fakeMachine({ code: 100 });
  await rejects(
    provisionChromium({ facts: MISSING, ...failing.options }),
    (e: unknown) =>
      e instanceof ProvisionError && !e.message.includes("\n") &&
      e.message.includes("exited with 100 (E: Unable to locate package chromium)"),
  );
  assertEquals(failing.ran.length, 1, "stops at the first failing command");
  const noBinary = fakeMachine({ installs: false });
  await rejects(
    provisionChromium({ facts: MISSING, ...noBinary.options }),
    (e: unknown) => e instanceof ProvisionError && /is still missing/.test(e.message),
  );
});

Deno.test("runsBrowserTests: the whole suite or paths covering web/", () => {
  const web = "/repo/web";
  assert(runsBrowserTests([], "/repo", web));
  assert(runsBrowserTests(["--filter", "packages"], "/repo", web), "a filter is not a path");
  assert(runsBrowserTests(["web/browser_test.ts"], "/repo", web));
  assert(runsBrowserTests(["web"], "/repo", web));
  assert(runsBrowserTests(["."], "/repo", web));
  assert(runsBrowserTests(["./browser_test.ts"], "/repo/web", web));
  assert(runsBrowserTests(["packages/", "web/"], "/repo", web));
  assert(!runsBrowserTests(["packages/tokenizer"], "/repo", web));
  assert(!runsBrowserTests(["scripts/provision_test.ts", "--fail-fast"], "/repo", web));
  assert(!runsBrowserTests(["../webby"], "/repo/scripts", web));
});

Deno.test("denoTestArgs: the README's flags, then the user's arguments", () => {
  assertEquals(denoTestArgs([]), ["test", "-A", "--quiet"]);
  assertEquals(denoTestArgs(["web/", "--filter", "page"]), [
    "test",
    "-A",
    "--quiet",
    "web/",
    "--filter",
    "page",
  ]);
});
