/** Codes shared with `wasm/assembly/rnn.ts` (cell kinds, flags, Bidirectional merge modes). */

/** Which recurrent cell a kernel call runs. */
export enum RnnCell {
  SimpleRNN = 0,
  LSTM = 1,
  /** GRU with `reset_after=False`: bias (3u), `hh = act(x·Wh + bh + (r*h)·Uh)`. */
  GRU = 2,
  /** GRU with `reset_after=True`: bias (2, 3u), `hh = act(x·Wh + bh_in + r*(h·Uh + bh_rec))`. */
  GRUResetAfter = 3,
}

/** Bit flags of `rnnSequence`. */
export enum RnnFlag {
  GoBackwards = 1,
  ReturnSequences = 2,
  ZeroOutputForMask = 4,
  /** Write step s at time position T-1-s (the flip Bidirectional applies to the backward RNN). */
  ReverseOutput = 8,
  /**
   * The input is already projected: `[batch, time, gates·units]`, input·kernel + bias (an
   * Embedding's rows of its projection table, see `embedding_projection.ts`).
   */
  Projected = 16,
}

/** Bidirectional merge modes as `rnnMerge` codes (concat writes column slices instead). */
export const MERGE_CODES = { sum: 1, mul: 2, ave: 3 } as const;

/** Gates per unit of a cell: 1, 4 (i, f, c, o) or 3 (z, r, h). */
export function gateCount(cell: RnnCell): number {
  return cell === RnnCell.SimpleRNN ? 1 : cell === RnnCell.LSTM ? 4 : 3;
}
