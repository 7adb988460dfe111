// Entry point of the scratchnet kernel module: one file per kernel family, re-exported here.
export * from "./runtime";
export { activate, reluGeneral, softmaxRows } from "./activations";
export * from "./gemm";
export * from "./conv";
export * from "./pool";
export * from "./batchnorm";
export * from "./embedding";
export * from "./rnn";
