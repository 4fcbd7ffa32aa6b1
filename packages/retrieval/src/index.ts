/**
 * @edgespec/retrieval: learned sparse retrieval (SPLADE, echo-embedding decoder-only sparse,
 * DupMAE) on the models package's encoders, and an exact impact-scored inverted index with a
 * flat dense index and hybrid fusion in the Rust wasm module.
 */
export * from "./encoders/index";
export * from "./index/index";
