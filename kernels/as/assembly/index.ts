// edgespec tensor kernels. Every export takes byte offsets into the shared memory;
// the TypeScript runtime validates shapes and ranges before calling any of them.
export { attention, attention_f16 } from "./attention";
export { stream_sum } from "./bench";
export { add, gelu, gelu_tanh, layernorm, mul, rmsnorm, scale, silu, softmax, swiglu } from "./elementwise";
export {
  act_row_bytes,
  matmul_f16,
  matmul_f32,
  matmul_q4_0,
  matmul_q4_0x4,
  matmul_q8_0,
  matmul_q8_0x4,
  quantize_act,
} from "./matmul";
export {
  dequantize_f16,
  dequantize_q4_0,
  dequantize_q8_0,
  get_rows,
  pack_x4,
  quantize_f16,
  quantize_q4_0,
  quantize_q8_0,
  unpack_x4,
} from "./quant";
export { rope, rope_table } from "./rope";
export { argmax, topk } from "./select";

/** First byte the JS arena may use: everything below holds the module's own data. */
export function heap_base(): usize {
  return (__heap_base + 63) & ~(<usize>63);
}

/** 1 when this build uses relaxed-SIMD instructions. */
export function relaxed(): i32 {
  return ASC_FEATURE_RELAXED_SIMD ? 1 : 0;
}
