/**
 * WebAssembly modules compiled by the host instead of at run time. workerd (and so Cloudflare
 * Workers) refuses `new WebAssembly.Module(bytes)` — "Wasm code generation disallowed by
 * embedder" — and hands a worker its `.wasm` files as modules compiled at upload
 * (`import kernels from "./kernels.wasm"`). The engine compiles its embedded kernel bytes with
 * `new WebAssembly.Module`; {@link usePrecompiledWasm} makes that constructor return the host's
 * module for exactly those bytes (matched by length and FNV-1a hash), and leaves every other call
 * to the runtime.
 */

/** A module compiled by the host and the fingerprint of the bytes it was compiled from. */
export interface PrecompiledWasm {
  module: WebAssembly.Module;
  /** {@link wasmFingerprint} of the module's bytes. */
  fingerprint: string;
}

/** `<byte length>:<FNV-1a 32-bit hash, hex>` of a wasm binary. */
export function wasmFingerprint(bytes: ArrayBufferView | ArrayBuffer): string {
  const view = bytes instanceof ArrayBuffer
    ? new Uint8Array(bytes)
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let hash = 0x811c9dc5;
  for (let i = 0; i < view.length; i++) {
    hash ^= view[i];
    hash = Math.imul(hash, 0x01000193);
  }
  return `${view.length}:${(hash >>> 0).toString(16).padStart(8, "0")}`;
}

const INSTALLED = Symbol.for("scratchnet.precompiledWasm");

/**
 * Makes `new WebAssembly.Module(bytes)` return the matching precompiled module. Call before the
 * engine first runs (it compiles its kernels lazily, on first use). Calling it again adds modules.
 */
export function usePrecompiledWasm(modules: readonly PrecompiledWasm[]): void {
  const wasm = WebAssembly as unknown as Record<string | symbol, unknown>;
  const existing = wasm[INSTALLED] as Map<string, WebAssembly.Module> | undefined;
  const table = existing ?? new Map<string, WebAssembly.Module>();
  for (const m of modules) table.set(m.fingerprint, m.module);
  if (existing) return;
  const original = WebAssembly.Module;
  const patched = new Proxy(original, {
    construct(target, args, newTarget) {
      const bytes = args[0];
      if (ArrayBuffer.isView(bytes) || bytes instanceof ArrayBuffer) {
        const found = table.get(wasmFingerprint(bytes));
        if (found) return found;
      }
      return Reflect.construct(target, args, newTarget);
    },
  });
  Object.defineProperty(WebAssembly, "Module", {
    value: patched,
    writable: true,
    configurable: true,
  });
  Object.defineProperty(WebAssembly, INSTALLED, { value: table });
}
