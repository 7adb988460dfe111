/** TF.js builders for the text layers (Embedding, SimpleRNN, LSTM, GRU, Bidirectional). */
export {};
