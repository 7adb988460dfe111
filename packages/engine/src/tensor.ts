import { InputShapeError } from "./errors.ts";

/** Element types the engine handles. */
export type DType = "float32" | "int32";

/** A dense row-major tensor on the host: a typed array plus its shape. */
export class Tensor {
  readonly data: Float32Array | Int32Array;
  readonly shape: readonly number[];

  constructor(data: Float32Array | Int32Array, shape: readonly number[]) {
    if (!(data instanceof Float32Array || data instanceof Int32Array)) {
      throw new InputShapeError("Tensor", "data as a Float32Array or Int32Array", describe(data));
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new InputShapeError(
        "Tensor",
        "a shape of non-negative integers",
        Array.isArray(shape) ? `[${shape.join(", ")}]` : describe(shape),
      );
    }
    const size = shape.reduce((a, b) => a * b, 1);
    if (size !== data.length) {
      throw new InputShapeError(
        "Tensor",
        `${size} values for shape [${shape.join(", ")}]`,
        `${data.length} values`,
      );
    }
    this.data = data;
    this.shape = [...shape];
  }

  /** "float32" or "int32", from the typed array. */
  get dtype(): DType {
    return this.data instanceof Int32Array ? "int32" : "float32";
  }

  /** Number of elements. */
  get size(): number {
    return this.data.length;
  }

  /** Rows `[start, end)` along axis 0, sharing memory. */
  sliceBatch(start: number, end: number): Tensor {
    const row = this.shape.slice(1).reduce((a, b) => a * b, 1);
    return new Tensor(this.data.subarray(start * row, end * row), [
      end - start,
      ...this.shape.slice(1),
    ]);
  }
}

/** A tensor living in the kernel module's memory; `shape` includes the batch dimension. */
export interface DeviceTensor {
  ptr: number;
  shape: number[];
  dtype: DType;
}

/** Product of the dimensions. */
export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** A shape without the batch dimension; `null` marks a dimension known only at run time. */
export type Shape = (number | null)[];

/** `[2, null, 3]` → `"(None, 2, None, 3)"`, Keras style with the batch dimension. */
export function formatShape(shape: Shape): string {
  return `(None, ${shape.map((d) => d ?? "None").join(", ")})`.replace(", )", ")");
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (typeof value !== "object") return typeof value;
  return Object.prototype.toString.call(value).slice(8, -1);
}
