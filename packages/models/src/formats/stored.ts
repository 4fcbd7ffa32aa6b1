/**
 * A tensor as a file stores it, before it is uploaded to a backend. `data` is a view into
 * the file's bytes (no copy). Shapes are in PyTorch order: [out, in] for a linear weight,
 * whatever the file format's own convention is.
 */
export type StoredDType = "F32" | "F16" | "BF16" | "Q8_0" | "Q4_0";

export interface StoredTensor {
  name: string;
  dtype: StoredDType;
  shape: number[];
  data: Uint8Array;
}

/** A set of named tensors read from one or several files. */
export interface TensorStore {
  /** what to call the store in errors (file name or directory) */
  readonly label: string;
  names(): string[];
  has(name: string): boolean;
  /** throws ModelFormatError naming the file and tensor when it is missing */
  get(name: string): StoredTensor;
}

export const STORED_BYTES: Record<StoredDType, { block: number; bytes: number }> = {
  F32: { block: 1, bytes: 4 },
  F16: { block: 1, bytes: 2 },
  BF16: { block: 1, bytes: 2 },
  Q8_0: { block: 32, bytes: 34 },
  Q4_0: { block: 32, bytes: 18 },
};

/** Byte length of a stored tensor, or a reason it cannot exist. */
export function storedByteLength(dtype: StoredDType, shape: readonly number[]): number | string {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) return `dimension ${d} is not a non-negative integer`;
    n *= d;
    if (!Number.isSafeInteger(n)) return `shape [${shape.join(", ")}] is too large`;
  }
  const { block, bytes } = STORED_BYTES[dtype];
  if (block > 1) {
    const last = shape.length ? shape[shape.length - 1] : 1;
    if (last % block) return `${dtype} needs the last dimension to be a multiple of ${block}, got ${last}`;
  }
  return (n / block) * bytes;
}

/**
 * A plain Uint8Array over the same memory. Node's Buffer is a Uint8Array whose slice() is a
 * view into a shared pool, so code that copies with slice() must never see one.
 */
export function plainBytes(bytes: Uint8Array): Uint8Array {
  return Object.getPrototypeOf(bytes) === Uint8Array.prototype ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** A copy of the bytes in a fresh, exactly sized ArrayBuffer (for typed-array views of any alignment). */
export function copyBytes(bytes: Uint8Array): ArrayBuffer {
  const out = new Uint8Array(bytes.byteLength);
  out.set(bytes);
  return out.buffer;
}

export class MapTensorStore implements TensorStore {
  constructor(
    readonly label: string,
    private readonly tensors: Map<string, StoredTensor>,
    private readonly fileOf: (name: string) => string = () => label,
  ) {}
  names(): string[] {
    return [...this.tensors.keys()];
  }
  has(name: string): boolean {
    return this.tensors.has(name);
  }
  get(name: string): StoredTensor {
    const t = this.tensors.get(name);
    if (!t) throw new MissingTensor(this.fileOf(name), name);
    return t;
  }
}

import { ModelFormatError } from "../errors";

export class MissingTensor extends ModelFormatError {
  constructor(file: string, name: string) {
    super(file, "is missing", name);
  }
}
