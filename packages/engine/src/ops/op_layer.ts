/**
 * The base of every operation-node layer (`ops/`): a weightless layer standing for one call of a
 * Keras 3 operation (`keras.src.ops.numpy.Add`, …) or a tf.keras 2 `TFOpLambda` /
 * `SlicingOpLambda`, taking one or more tensors (its constant arguments are fixed at
 * construction) and carrying its own backward. Its class name is `op:<op>` (e.g. `op:add`); the
 * trainer finds the backward under that name.
 *
 * Operation nodes keep the batch as the first axis: ops that would move, drop or reduce it are
 * refused when the model is built.
 *
 * @module
 */
import { InputShapeError } from "../errors.ts";
import { type CallContext, Layer, type LayerBuildOptions } from "../layer.ts";
import type { BackwardArgs } from "../layer_training.ts";
import { type DeviceTensor, formatShape, type Shape } from "../tensor.ts";
import type { OnnxLayerContext } from "../onnx_emit.ts";

/** A whole shape (batch first); `null` where only the run time knows the size. */
export type FullShape = (number | null)[];

/** The Keras class or TF function of an operation node, for messages (`Add`, `math.add`). */
export interface OpOrigin {
  /** What the file calls the op: a Keras 3 class name or `TFOpLambda(math.add)`. */
  readonly label: string;
}

/** Base of the operation-node layers. */
export abstract class OpLayer extends Layer {
  /** The engine's op name (`add`, `reshape`, `mean`, `getitem`, …). */
  readonly op: string;
  /** The op as the file names it (e.g. `Add` or `TFOpLambda(__operators__.add)`). */
  readonly label: string;
  /** How many tensors one call takes. */
  readonly inputCount: number;

  constructor(
    op: string,
    label: string,
    name: string,
    inputCount: number,
    options: LayerBuildOptions = {},
  ) {
    super(`op:${op}`, { name }, options);
    this.op = op;
    this.label = label;
    this.inputCount = inputCount;
  }

  override get multiInput(): boolean {
    return true;
  }

  /** The output's whole shape for the inputs' whole shapes (batch first). */
  abstract shapeOf(shapes: readonly FullShape[]): FullShape;

  /** The forward on every input of the call; returns a new tensor (or a view of an input). */
  abstract forward(xs: readonly DeviceTensor[], ctx: CallContext): DeviceTensor;

  /** One gradient per input (null where not needed); see `LayerTraining.backward`. */
  abstract backwardInputs(a: BackwardArgs): (DeviceTensor | null)[];

  /**
   * Writes the call as ONNX nodes (`ctx.output` from `ctx.inputs`), as a layer class's `onnx` hook
   * does; operations without an ONNX form yet refuse by name.
   */
  emitOnnx(ctx: OnnxLayerContext): void {
    ctx.refuse(`operation ${this.label} has no ONNX form yet`);
  }

  computeOutputShape(inputShape: Shape): Shape {
    return this.computeOutputShapes([inputShape]);
  }

  override computeOutputShapes(inputShapes: Shape[]): Shape {
    this.#expectCount(inputShapes.length);
    return this.shapeOf(inputShapes.map((s) => [null, ...s])).slice(1);
  }

  call(x: DeviceTensor, mask: DeviceTensor | null, ctx: CallContext): DeviceTensor {
    return this.callInputs([x], [mask], ctx);
  }

  override callInputs(
    xs: readonly DeviceTensor[],
    _masks: readonly (DeviceTensor | null)[],
    ctx: CallContext,
  ): DeviceTensor {
    this.#expectCount(xs.length);
    return this.forward(xs, ctx);
  }

  /** Keras operations do not carry masks: the output has none. */
  override computeMasks(): DeviceTensor | null {
    return null;
  }

  /** The run-time output shape (every dim known). */
  protected outShape(xs: readonly DeviceTensor[]): number[] {
    return this.shapeOf(xs.map((x) => x.shape)) as number[];
  }

  /** An {@link InputShapeError} naming the op. */
  protected shapeError(expected: string, shapes: readonly FullShape[]): InputShapeError {
    return new InputShapeError(
      this.name,
      `${expected} (${this.label})`,
      shapes.map((s) => formatShape(s.slice(1))).join(", "),
    );
  }

  #expectCount(n: number): void {
    if (n !== this.inputCount) {
      throw new InputShapeError(
        this.name,
        `${this.inputCount} input tensor${this.inputCount === 1 ? "" : "s"} (${this.label})`,
        `${n}`,
      );
    }
  }
}

/** Normalises an axis of a rank-`rank` tensor (negative counts from the end); null if invalid. */
export function normAxis(axis: number, rank: number): number | null {
  if (!Number.isInteger(axis)) return null;
  const a = axis < 0 ? axis + rank : axis;
  return a >= 0 && a < rank ? a : null;
}
