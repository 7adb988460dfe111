import { ActivationCode } from "../activations.ts";
import { getRuntime } from "../wasm/kernels.ts";
import { Rng } from "../../testing/random.ts";
import { assertClose } from "../../testing/assert.ts";
import {
  type LstmCellActivations,
  lstmCellBackwardReference,
  lstmCellForwardReference,
} from "./lstm_cell_reference.ts";

// Units not a multiple of 4 exercise the kernels' scalar tails; 1 row and many.
const SHAPES: [rows: number, units: number][] = [[1, 1], [1, 4], [7, 3], [35, 5], [12, 8], [3, 13]];
const ACTIVATIONS: LstmCellActivations[] = [
  { act: ActivationCode.Tanh, actAlpha: 0, recAct: ActivationCode.Sigmoid, recAlpha: 0 },
  { act: ActivationCode.Relu, actAlpha: 0, recAct: ActivationCode.HardSigmoid, recAlpha: 0 },
  { act: ActivationCode.Elu, actAlpha: 1, recAct: ActivationCode.Sigmoid, recAlpha: 0 },
];

Deno.test("lstmCellForward matches the reference: c and h, odd units, 1 row and many", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1701);
  for (const [rows, units] of SHAPES) {
    for (const a of ACTIVATIONS) {
      const z = rng.floats(rows * 4 * units, -3, 3);
      const cPrev = rng.floats(rows * units, -2, 2);
      const pz = heap.upload(z), pc = heap.upload(cPrev);
      const ph = heap.upload(new Float32Array(rows * units).fill(7)); // stale: overwritten
      try {
        kernels.lstmCellForward(pz, pc, ph, rows, units, a.act, a.actAlpha, a.recAct, a.recAlpha);
        const want = lstmCellForwardReference(z, cPrev, rows, units, a);
        const what = `rows ${rows} units ${units} ${ActivationCode[a.act]}`;
        assertClose(heap.f32(pc, rows * units), want.c, 1e-5, `${what} c`);
        assertClose(heap.f32(ph, rows * units), want.h, 1e-5, `${what} h`);
        assertClose(heap.f32(pz, z.length), z, 0, `${what} z is read only`);
      } finally {
        [pz, pc, ph].forEach((p) => heap.free(p));
      }
    }
  }
});

Deno.test("lstmCellBackward matches the reference: dz and dcPrev, odd units, 1 row and many", () => {
  const { kernels, heap } = getRuntime();
  const rng = new Rng(1702);
  for (const [rows, units] of SHAPES) {
    for (const a of ACTIVATIONS) {
      const z = rng.floats(rows * 4 * units, -3, 3);
      const cPrev = rng.floats(rows * units, -2, 2);
      const dh = rng.floats(rows * units);
      const dc = rng.floats(rows * units);
      const pz = heap.upload(z), pc = heap.upload(cPrev), pdh = heap.upload(dh);
      const pdc = heap.upload(dc);
      const pdz = heap.upload(new Float32Array(z.length).fill(7)); // stale: overwritten
      try {
        kernels.lstmCellBackward(
          pz,
          pc,
          pdh,
          pdc,
          pdz,
          rows,
          units,
          a.act,
          a.actAlpha,
          a.recAct,
          a.recAlpha,
        );
        const want = lstmCellBackwardReference(z, cPrev, dh, dc, rows, units, a);
        const what = `rows ${rows} units ${units} ${ActivationCode[a.act]}`;
        assertClose(heap.f32(pdz, z.length), want.dz, 1e-5, `${what} dz`);
        assertClose(heap.f32(pdc, rows * units), want.dcPrev, 1e-5, `${what} dcPrev`);
      } finally {
        [pz, pc, pdh, pdc, pdz].forEach((p) => heap.free(p));
      }
    }
  }
});
