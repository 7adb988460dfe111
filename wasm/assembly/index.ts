// Entry point of the scratchnet kernel module: one file per kernel family, re-exported here.
export * from "./runtime";
export { activate, reluGeneral, softmaxRows } from "./activations";
export { gemm, gemmStrided, gemmFusedMultiplyAdd, gemmPanelColumns } from "./gemm";
export { gemmNarrowApplies, gemmNarrowPack, gemmNarrowPackedFloats, gemmNarrowPacked } from "./gemm_narrow";
export * from "./peak";
export * from "./conv";
export * from "./pool";
export * from "./batchnorm";
export * from "./embedding";
export * from "./rnn";
export * from "./dense_grad";
export { activationGrad, softmaxGradRows, reluGeneralGrad, multiplyElementwise, addInto } from "./activation_grad";
export * from "./dropout_grad";
export * from "./loss";
export * from "./optim";
export * from "./embedding_grad";
export * from "./rnn_grad";
export {
  conv2dBackward,
  conv2dBackwardMinScratch,
  conv2dBackwardTile,
  conv2dFlipKernel,
  transposeMatrix,
} from "./conv_grad";
export * from "./pool_grad";
export * from "./lstm_cell";
export * from "./batchnorm_grad";
export {
  conv2dWinograd,
  conv2dWinogradFilterGrad,
  conv2dWinogradScratchFloats,
  winogradFilterTransform,
} from "./winograd";
export {
  broadcastTo,
  sumToShape,
  mergeInto,
  mergeSelect,
  selectGrad,
  maskRowsFill,
  scaleFloats,
  copyStrided,
  l2NormalizeRows,
  l2NormalizeRowsGrad,
} from "./merge";
export * from "./conv_transpose";
export * from "./resize";
export {
  depthwiseConv2d,
  depthwiseConv2dScratchFloats,
  depthwiseConv2dBackwardInput,
  depthwiseConv2dBackwardInputScratchFloats,
  depthwiseConv2dBackwardFilter,
} from "./depthwise_conv";
