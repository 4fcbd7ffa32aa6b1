import { DTypeError, ShapeError } from "./errors";

/**
 * Storage types. q8_0 and q4_0 are GGUF's block formats: blocks of 32 values with an
 * f16 scale d; q8_0 stores 32 x int8 (value = d * q), q4_0 stores 16 bytes of nibbles
 * (low nibbles are elements 0..15, high nibbles 16..31, value = d * (q - 8)).
 */
export type DType = "f32" | "f16" | "q8_0" | "q4_0" | "i32" | "u8";

export const DTYPES: readonly DType[] = ["f32", "f16", "q8_0", "q4_0", "i32", "u8"];

export const QK = 32;

interface DTypeInfo {
  /** elements per block (1 for plain types) */
  block: number;
  /** bytes per block */
  bytes: number;
  /** required byte alignment of the data start */
  align: number;
}

const INFO: Record<DType, DTypeInfo> = {
  f32: { block: 1, bytes: 4, align: 4 },
  f16: { block: 1, bytes: 2, align: 2 },
  q8_0: { block: QK, bytes: 34, align: 2 },
  q4_0: { block: QK, bytes: 18, align: 2 },
  i32: { block: 1, bytes: 4, align: 4 },
  u8: { block: 1, bytes: 1, align: 1 },
};

export function isDType(v: unknown): v is DType {
  return typeof v === "string" && (DTYPES as readonly string[]).includes(v);
}

export function dtypeInfo(dtype: DType): DTypeInfo {
  const info = INFO[dtype];
  if (!info) throw new DTypeError(`unknown dtype ${JSON.stringify(dtype)}; expected one of ${DTYPES.join(", ")}`);
  return info;
}

export function isQuantized(dtype: DType): dtype is "q8_0" | "q4_0" {
  return dtype === "q8_0" || dtype === "q4_0";
}

/** Number of elements of a shape, after checking every size is a non-negative safe integer. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ShapeError(`invalid dimension ${d} in shape [${shape.join(", ")}]`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new ShapeError(`shape [${shape.join(", ")}] has too many elements`);
  return n;
}

/** Bytes needed to store a tensor; block formats need the last dimension to be a multiple of 32. */
export function byteSize(dtype: DType, shape: readonly number[]): number {
  const info = dtypeInfo(dtype);
  const n = numel(shape);
  if (info.block > 1) {
    const last = shape.length ? shape[shape.length - 1] : 1;
    if (last % info.block !== 0) {
      throw new ShapeError(`${dtype} needs the last dimension to be a multiple of ${info.block}, got shape [${shape.join(", ")}]`);
    }
  }
  return (n / info.block) * info.bytes;
}
