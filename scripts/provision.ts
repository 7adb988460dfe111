/**
 * What `deno task test` sets up before the tests run: the Chromium the browser tests drive
 * (`web/browser_test.ts`, `web/browser_training_test.ts`). Idempotent: a present browser is left
 * alone. When it is missing, Debian's `chromium` package is installed with apt-get if this process
 * runs as root (CI and the project's machines do) — never a download from a CDN. Otherwise
 * provisioning fails with one line that says which command to run; the tests are never skipped.
 *
 * {@link planChromium} is the decision (pure, unit-tested); {@link provisionChromium} gathers the
 * facts, carries the plan out and checks the result.
 *
 * @module
 */
import {
  CHROMIUM_ENV,
  CHROMIUM_INSTALL_COMMAND,
  CHROMIUM_PATH,
  chromiumPath,
} from "../web/chromium.ts";

/** What the decision needs to know about this machine. */
export interface ChromiumFacts {
  /** The binary the browser tests will launch. */
  path: string;
  /** Whether `path` came from `$SCRATCHNET_CHROMIUM` (then it is never installed over). */
  overridden: boolean;
  /** Whether `path` is an existing file. */
  present: boolean;
  /** Whether this process runs as root (uid 0). */
  root: boolean;
  /** Whether `apt-get` is on the PATH. */
  aptGet: boolean;
}

/** Environment of the apt-get commands: no prompts from debconf. */
export const APT_ENV: Readonly<Record<string, string>> = { DEBIAN_FRONTEND: "noninteractive" };

/**
 * The commands that install Debian's Chromium: refresh the package lists, then install. Both wait
 * up to five minutes for another apt/dpkg process's lock instead of failing at once.
 */
export const CHROMIUM_INSTALL_COMMANDS: readonly (readonly string[])[] = [
  ["apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=300"],
  ["apt-get", "install", "-y", "-qq", "-o", "DPkg::Lock::Timeout=300", "chromium"],
];

/** What to do about Chromium. */
export type ChromiumPlan =
  | { action: "none"; path: string }
  | { action: "install"; path: string; commands: readonly (readonly string[])[] }
  | { action: "fail"; message: string };

/** Provisioning could not make the tests' requirements available; `message` is one line. */
export class ProvisionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ProvisionError";
  }
}

/**
 * Decides what to do: nothing when the browser is present; install Debian's package when the
 * default path is missing and this is root with apt-get; else a one-line failure naming the
 * command to run.
 */
export function planChromium(facts: ChromiumFacts): ChromiumPlan {
  if (facts.present) return { action: "none", path: facts.path };
  if (facts.overridden) {
    return {
      action: "fail",
      message: `${CHROMIUM_ENV}=${facts.path} does not exist: point it at a Chromium binary, ` +
        `or unset it to use Debian's chromium at ${CHROMIUM_PATH}.`,
    };
  }
  if (facts.root && facts.aptGet) {
    return { action: "install", path: facts.path, commands: CHROMIUM_INSTALL_COMMANDS };
  }
  if (facts.aptGet) {
    return {
      action: "fail",
      message: `Chromium for the browser tests is missing at ${facts.path} and only root can ` +
        `install it: run "sudo apt-get update && sudo apt-get install -y chromium", ` +
        `then run the tests again.`,
    };
  }
  return {
    action: "fail",
    message: `Chromium for the browser tests is missing at ${facts.path} and there is no ` +
      `apt-get to install it: install Chromium, then run ` +
      `"${CHROMIUM_ENV}=/path/to/chromium npx -y deno@2.9.6 task test".`,
  };
}

/** Whether `path` is an existing file (following links). */
export async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

/** The full path of `command` on `$PATH`, or null. */
export async function which(command: string): Promise<string | null> {
  const dirs = (Deno.env.get("PATH") ?? "").split(Deno.build.os === "windows" ? ";" : ":");
  for (const dir of dirs) {
    if (dir && await isFile(`${dir}/${command}`)) return `${dir}/${command}`;
  }
  return null;
}

/** The facts of this machine for {@link planChromium}. */
export async function chromiumFacts(): Promise<ChromiumFacts> {
  const path = chromiumPath();
  return {
    path,
    overridden: Boolean(Deno.env.get(CHROMIUM_ENV)),
    present: await isFile(path),
    root: Deno.uid() === 0,
    aptGet: (await which("apt-get")) !== null,
  };
}

/** The result of one command: its exit code and its output (stdout then stderr). */
export interface CommandResult {
  code: number;
  output: string;
}

/** Runs a command with extra environment variables, capturing its output. */
export type CommandRunner = (
  command: readonly string[],
  env: Readonly<Record<string, string>>,
) => Promise<CommandResult>;

/** Runs `command` as a subprocess, capturing stdout and stderr. */
export const runCommand: CommandRunner = async (command, env) => {
  try {
    const { code, stdout, stderr } = await new Deno.Command(command[0], {
      args: command.slice(1),
      env: { ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
  } catch (e) {
    return { code: 127, output: `${command[0]}: ${(e as Error).message}` };
  }
};

/** Options of {@link provisionChromium}; tests replace the machine with fakes. */
export interface ProvisionOptions {
  /** This machine's facts (default: {@link chromiumFacts}). */
  facts?: ChromiumFacts;
  /** Runs the install commands (default: {@link runCommand}). */
  run?: CommandRunner;
  /** Checks the binary after installing (default: {@link isFile}). */
  exists?: (path: string) => Promise<boolean>;
  /** Progress lines (default: `console.log`). */
  log?: (line: string) => void;
  /** Clock for the elapsed time in the progress line (default: `performance.now`). */
  now?: () => number;
}

/** The last non-empty line of a command's output, for a one-line error. */
function lastLine(output: string): string {
  const lines = output.split("\n").map((l) => l.trim()).filter((l) => l.length > 0);
  return lines.at(-1) ?? "no output";
}

/**
 * Makes sure the browser tests' Chromium exists, installing Debian's package as root when it is
 * missing (with one progress line before and one after). Returns the binary's path.
 *
 * @throws {ProvisionError} when it is missing and cannot be installed here, or installing failed;
 * the message is one line saying what to run.
 */
export async function provisionChromium(options: ProvisionOptions = {}): Promise<string> {
  const facts = options.facts ?? await chromiumFacts();
  const run = options.run ?? runCommand;
  const exists = options.exists ?? isFile;
  const log = options.log ?? ((line: string) => console.log(line));
  const now = options.now ?? (() => performance.now());
  const plan = planChromium(facts);
  if (plan.action === "none") return plan.path;
  if (plan.action === "fail") throw new ProvisionError(plan.message);
  log(
    `provision: Chromium for the browser tests is missing at ${plan.path}; installing Debian's ` +
      `chromium (${CHROMIUM_INSTALL_COMMAND}), about a minute…`,
  );
  const start = now();
  for (const command of plan.commands) {
    const { code, output } = await run(command, APT_ENV);
    if (code !== 0) {
      throw new ProvisionError(
        `"${command.join(" ")}" exited with ${code} (${lastLine(output)}): ` +
          `run "${CHROMIUM_INSTALL_COMMAND}" to see why, then run the tests again.`,
      );
    }
  }
  if (!await exists(plan.path)) {
    throw new ProvisionError(
      `apt-get installed chromium but ${plan.path} is still missing: set ${CHROMIUM_ENV} to the ` +
        `Chromium binary, then run the tests again.`,
    );
  }
  log(`provision: Chromium installed at ${plan.path} (${((now() - start) / 1000).toFixed(0)} s)`);
  return plan.path;
}

/** `deno test` flags whose value is the next argument (so that value is not a test path). */
const VALUE_FLAGS = new Set([
  "--filter",
  "--reporter",
  "--junit-path",
  "--config",
  "-c",
  "--import-map",
  "--cert",
  "--location",
  "--seed",
]);

/**
 * Whether a `deno test` run with these extra arguments includes the browser tests: yes for the
 * whole suite (no paths given) or when a path given is `web/`, inside it, or above it. `cwd` is the
 * folder the paths are relative to; `webDir` the absolute path of `web/`.
 */
export function runsBrowserTests(args: readonly string[], cwd: string, webDir: string): boolean {
  const paths: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--") continue;
    if (arg.startsWith("-")) {
      if (VALUE_FLAGS.has(arg)) i++;
      continue;
    }
    paths.push(arg);
  }
  if (paths.length === 0) return true;
  const web = trimSlash(webDir);
  return paths.some((p) => {
    const abs = trimSlash(absolute(p, cwd));
    return abs === web || abs.startsWith(`${web}/`) || web.startsWith(`${abs}/`);
  });
}

function trimSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** `path` made absolute against `cwd`, with `.` and `..` segments resolved. */
function absolute(path: string, cwd: string): string {
  const parts: string[] = [];
  for (const part of (path.startsWith("/") ? path : `${cwd}/${path}`).split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}
