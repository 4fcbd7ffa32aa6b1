/** attention over an f32 cache, and attention_f16 over an f16 one: the same arguments */
export type AttentionKernel = (
  q: number,
  k: number,
  v: number,
  out: number,
  scores: number,
  nQ: number,
  nHeads: number,
  nKv: number,
  headDim: number,
  kvLen: number,
  cap: number,
  maskKind: number,
  mask: number,
  scale: number,
  h0: number,
  h1: number,
) => void;

/** The exports of kernels/as (see kernels/as/assembly/index.ts); every pointer is a byte offset. */
export interface KernelExports {
  heap_base(): number;
  relaxed(): number;
  stream_sum(p: number, bytes: number): number;
  act_row_bytes(cols: number): number;
  quantize_act(x: number, act: number, cols: number, n: number, q4: number): void;
  matmul_f32(w: number, x: number, y: number, rows: number, cols: number, n: number, ld: number): void;
  matmul_f16(w: number, x: number, y: number, rows: number, cols: number, n: number, ld: number): void;
  matmul_q8_0(w: number, act: number, y: number, rows: number, cols: number, n: number, ld: number): void;
  matmul_q8_0x4(w: number, act: number, y: number, rows: number, cols: number, n: number, ld: number): void;
  matmul_q4_0(w: number, act: number, y: number, rows: number, cols: number, n: number, ld: number): void;
  matmul_q4_0x4(w: number, act: number, y: number, rows: number, cols: number, n: number, ld: number): void;
  rmsnorm(x: number, w: number, y: number, n: number, dim: number, eps: number): void;
  layernorm(x: number, w: number, b: number, y: number, n: number, dim: number, eps: number): void;
  softmax(x: number, y: number, n: number, dim: number): void;
  silu(x: number, y: number, len: number): void;
  gelu(x: number, y: number, len: number): void;
  gelu_tanh(x: number, y: number, len: number): void;
  swiglu(g: number, u: number, y: number, len: number): void;
  add(a: number, b: number, y: number, len: number, blen: number): void;
  mul(a: number, b: number, y: number, len: number, blen: number): void;
  scale(x: number, y: number, len: number, s: number): void;
  rope(x: number, nTok: number, nHeads: number, headDim: number, table: number, ropeDim: number, mode: number): void;
  rope_table(pos: number, nTok: number, invFreq: number, half: number, af: number, table: number): void;
  attention: AttentionKernel;
  attention_f16: AttentionKernel;
  argmax(x: number, n: number, dim: number, out: number): void;
  topk(x: number, n: number, dim: number, k: number, outIdx: number, outVal: number): void;
  quantize_f16(src: number, dst: number, n: number): number;
  quantize_q8_0(src: number, dst: number, n: number): number;
  quantize_q4_0(src: number, dst: number, n: number): number;
  dequantize_f16(src: number, dst: number, n: number): void;
  dequantize_q8_0(src: number, dst: number, n: number): void;
  dequantize_q4_0(src: number, dst: number, n: number): void;
  pack_x4(src: number, dst: number, rows: number, nb: number, blockBytes: number): void;
  unpack_x4(src: number, dst: number, rows: number, nb: number, blockBytes: number): void;
  get_rows(src: number, kind: number, cols: number, ids: number, n: number, dst: number): void;
}

export const KERNEL_NAMES: readonly (keyof KernelExports)[] = [
  "heap_base",
  "relaxed",
  "stream_sum",
  "act_row_bytes",
  "quantize_act",
  "matmul_f32",
  "matmul_f16",
  "matmul_q8_0",
  "matmul_q8_0x4",
  "matmul_q4_0",
  "matmul_q4_0x4",
  "rmsnorm",
  "layernorm",
  "softmax",
  "silu",
  "gelu",
  "gelu_tanh",
  "swiglu",
  "add",
  "mul",
  "scale",
  "rope",
  "rope_table",
  "attention",
  "attention_f16",
  "argmax",
  "topk",
  "quantize_f16",
  "quantize_q8_0",
  "quantize_q4_0",
  "dequantize_f16",
  "dequantize_q8_0",
  "dequantize_q4_0",
  "pack_x4",
  "unpack_x4",
  "get_rows",
];
