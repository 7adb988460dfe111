/** TF.js builders for the CNN layers (Conv2D, pooling, BatchNormalization). */
export {};
