/**
 * Where the browser tests find Chromium, without loading Playwright: `deno task test`'s
 * provisioning (`scripts/provision.ts`), `deno task doctor` and `web/browser.ts` share it.
 *
 * @module
 */

/** Where Debian's `chromium` package installs the browser. */
export const CHROMIUM_PATH = "/usr/bin/chromium";

/** Environment variable naming another Chromium binary than {@link CHROMIUM_PATH}. */
export const CHROMIUM_ENV = "SCRATCHNET_CHROMIUM";

/** The command that installs Debian's Chromium (what `deno task test` runs as root). */
export const CHROMIUM_INSTALL_COMMAND = "apt-get update && apt-get install -y chromium";

/** The Chromium binary: `$SCRATCHNET_CHROMIUM` or `/usr/bin/chromium`. */
export function chromiumPath(): string {
  return Deno.env.get(CHROMIUM_ENV) || CHROMIUM_PATH;
}

/** Thrown when Chromium is not installed, saying how to install it. */
export class ChromiumMissingError extends Error {
  /** @param path the binary that was looked for */
  constructor(readonly path: string) {
    super(
      `Chromium not found at ${path}: the browser tests need Debian's Chromium. ` +
        `"npx -y deno@2.9.6 task test" installs it when run as root; otherwise run ` +
        `"sudo apt-get update && sudo apt-get install -y chromium", ` +
        `or set ${CHROMIUM_ENV} to another Chromium binary.`,
    );
    this.name = "ChromiumMissingError";
  }
}
