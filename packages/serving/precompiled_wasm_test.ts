/** `usePrecompiledWasm`: the host's module for exactly the registered bytes, a compile otherwise. */
import {
  deepStrictEqual as assertEquals,
  notStrictEqual,
  ok as assert,
  strictEqual,
} from "node:assert/strict";
import { usePrecompiledWasm, wasmFingerprint } from "./mod.ts";

/** (module (func (export "f") (result i32) i32.const K)) */
function wasmReturning(k: number): Uint8Array {
  return new Uint8Array([
    0,
    97,
    115,
    109,
    1,
    0,
    0,
    0, // magic, version
    1,
    5,
    1,
    96,
    0,
    1,
    127, // type: () -> i32
    3,
    2,
    1,
    0, // function 0 of type 0
    7,
    5,
    1,
    1,
    102,
    0,
    0, // export "f"
    10,
    6,
    1,
    4,
    0,
    65,
    k,
    11, // body: i32.const k
  ]);
}

Deno.test("wasmFingerprint: length and FNV-1a, different for different bytes", () => {
  const [a, b] = [wasmReturning(1), wasmReturning(2)];
  assert(wasmFingerprint(a).startsWith(`${a.length}:`));
  assert(wasmFingerprint(a) !== wasmFingerprint(b));
  assertEquals(wasmFingerprint(a), wasmFingerprint(a.slice().buffer));
  // FNV-1a of "a" is e40c292c.
  assertEquals(wasmFingerprint(new Uint8Array([0x61])), "1:e40c292c");
});

Deno.test("usePrecompiledWasm: new WebAssembly.Module(bytes) returns the host's module for those bytes", () => {
  const registered = wasmReturning(7);
  // Stands in for the module a host compiled at upload: deliberately one of different code.
  const hostModule = new WebAssembly.Module(wasmReturning(42) as BufferSource);
  usePrecompiledWasm([{ module: hostModule, fingerprint: wasmFingerprint(registered) }]);
  const got = new WebAssembly.Module(registered as BufferSource);
  strictEqual(got, hostModule);
  const run = (m: WebAssembly.Module) => (new WebAssembly.Instance(m).exports.f as () => number)();
  assertEquals(run(got), 42);
  // Other bytes still compile as usual, and instanceof keeps working.
  const other = new WebAssembly.Module(wasmReturning(9) as BufferSource);
  notStrictEqual(other, hostModule);
  assertEquals(run(other), 9);
  assert(other instanceof WebAssembly.Module && got instanceof WebAssembly.Module);
});
