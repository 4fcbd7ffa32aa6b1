/**
 * Stored tensors (file dtypes) to backend tensors (compute dtypes). Matmul weights keep
 * their file dtype unless the caller asks for another (`dtype: "q8_0"` to fit a Worker's
 * 128 MB); norms and biases are always f32.
 */
import { type Backend, f16ArrayToF32, type MatmulWeightDType, type Tensor } from "@edgespec/runtime";
import { ModelFormatError } from "./errors";
import { copyBytes, MapTensorStore, MissingTensor, type StoredTensor, type TensorStore } from "./formats/stored";

export type WeightDType = MatmulWeightDType;
export const WEIGHT_DTYPES: readonly WeightDType[] = ["f32", "f16", "q8_0", "q4_0"];

const NATIVE: Record<StoredTensor["dtype"], WeightDType> = { F32: "f32", F16: "f16", BF16: "f32", Q8_0: "q8_0", Q4_0: "q4_0" };

/** The dtype a stored tensor keeps on the backend when the load does not ask for another. */
export function nativeDType(stored: StoredTensor["dtype"]): WeightDType {
  return NATIVE[stored];
}

/** The values of a stored tensor as f32 (a copy, or a view when the bytes are F32 and aligned). */
export function storedToF32(backend: Backend, t: StoredTensor): Float32Array {
  switch (t.dtype) {
    case "F32":
      if (t.data.byteOffset % 4 === 0) return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
      return new Float32Array(copyBytes(t.data));
    case "F16": {
      const h = t.data.byteOffset % 2 === 0 ? new Uint16Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 2) : new Uint16Array(copyBytes(t.data));
      return f16ArrayToF32(h);
    }
    case "BF16": {
      // bf16 is the top half of an f32
      const out = new Float32Array(t.data.byteLength / 2);
      const u = new Uint32Array(out.buffer);
      for (let i = 0; i < out.length; i++) u[i] = (t.data[2 * i] | (t.data[2 * i + 1] << 8)) << 16;
      return out;
    }
    default: {
      const q = backend.tensor(NATIVE[t.dtype], t.shape, t.data, { layout: "rows" });
      try {
        return backend.readF32(q);
      } finally {
        q.free();
      }
    }
  }
}

export interface UploadOptions {
  /** compute dtype for a matmul weight; undefined keeps the file's (BF16 becomes f32) */
  dtype?: WeightDType;
  /** expected PyTorch shape; a mismatch is a ModelFormatError naming the tensor */
  shape?: readonly number[];
}

/**
 * One stored tensor as a backend tensor. A block format is only possible when rows are a
 * multiple of 32 wide; narrower weights stay f32 (what llama.cpp does too).
 */
export function uploadWeight(backend: Backend, store: TensorStore, name: string, opts: UploadOptions = {}): Tensor {
  const t = store.get(name);
  if (opts.shape && (t.shape.length !== opts.shape.length || t.shape.some((d, i) => d !== opts.shape?.[i]))) {
    throw new ModelFormatError(store.label, `has shape [${t.shape.join(", ")}], the config needs [${opts.shape.join(", ")}]`, name);
  }
  let want = opts.dtype ?? NATIVE[t.dtype];
  if ((want === "q8_0" || want === "q4_0") && (t.shape.length !== 2 || t.shape[1] % 32 !== 0)) want = "f32";
  try {
    if (want === NATIVE[t.dtype] && t.dtype !== "BF16") return backend.tensor(want, t.shape, t.data);
    if (t.dtype === "Q8_0" || t.dtype === "Q4_0") return convertOnBackend(backend, t, want);
    const f32 = storedToF32(backend, t);
    return want === "f32" ? backend.tensor("f32", t.shape, f32) : backend.fromF32(want, t.shape, f32);
  } catch (e) {
    if (e instanceof ModelFormatError) throw e;
    throw new ModelFormatError(store.label, (e as Error).message, name);
  }
}

/**
 * A block-format tensor in another dtype, converted on the backend: the same values as
 * fromF32(storedToF32(t)), without reading back (a WebGPU backend cannot read synchronously).
 */
function convertOnBackend(backend: Backend, t: StoredTensor, want: WeightDType): Tensor {
  const q = backend.tensor(NATIVE[t.dtype], t.shape, t.data, { layout: "rows" });
  const f32 = backend.empty("f32", t.shape);
  const out = want === "f32" ? f32 : backend.empty(want, t.shape);
  try {
    backend.dequantize(f32, q);
    if (out !== f32) backend.quantize(out, f32);
    return out;
  } catch (e) {
    out.free();
    throw e;
  } finally {
    q.free();
    if (out !== f32) f32.free();
  }
}

/** A 1-D f32 parameter (norm weight, bias). */
export function uploadVector(backend: Backend, store: TensorStore, name: string, length: number): Tensor {
  return uploadWeight(backend, store, name, { dtype: "f32", shape: [length] });
}

/**
 * Where a model gets its parameters: straight from a TensorStore (file bytes in memory),
 * or from tensors already uploaded while a file streamed in.
 */
export interface WeightSource {
  readonly label: string;
  has(name: string): boolean;
  /** a 2-D matmul weight (or embedding table) in the load dtype */
  matrix(name: string, shape: readonly number[]): Tensor;
  /** a 1-D f32 parameter */
  vector(name: string, length: number): Tensor;
}

export function weightsFromStore(backend: Backend, store: TensorStore, dtype?: WeightDType): WeightSource {
  return {
    label: store.label,
    has: (name) => store.has(name),
    matrix: (name, shape) => uploadWeight(backend, store, name, { dtype, shape }),
    vector: (name, length) => uploadVector(backend, store, name, length),
  };
}

/**
 * Upload tensors as they arrive from a stream (peak memory: one tensor plus the backend's
 * copy), then hand them out by name. Tensors nobody asked for are freed by `dispose`.
 */
export class StreamedWeights implements WeightSource {
  private tensors = new Map<string, Tensor>();
  private taken = new Set<string>();
  constructor(
    private readonly backend: Backend,
    readonly label: string,
    private readonly dtype?: WeightDType,
  ) {}

  async consume(stream: AsyncIterable<StoredTensor>, file: string, accept: (name: string) => boolean = () => true): Promise<void> {
    for await (const t of stream) {
      if (!accept(t.name)) continue;
      const one = new MapTensorStore(file, new Map([[t.name, t]]));
      const up =
        t.shape.length >= 2 ? uploadWeight(this.backend, one, t.name, { dtype: this.dtype }) : uploadWeight(this.backend, one, t.name, { dtype: "f32" });
      this.tensors.get(t.name)?.free();
      this.tensors.set(t.name, up);
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  private take(name: string, shape: readonly number[]): Tensor {
    const t = this.tensors.get(name);
    if (!t) throw new MissingTensor(this.label, name);
    if (t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
      throw new ModelFormatError(this.label, `has shape [${t.shape.join(", ")}], the config needs [${shape.join(", ")}]`, name);
    }
    this.taken.add(name);
    return t;
  }

  matrix(name: string, shape: readonly number[]): Tensor {
    return this.take(name, shape);
  }

  vector(name: string, length: number): Tensor {
    return this.take(name, [length]);
  }

  /** Free every uploaded tensor no model took (all of them after a failed load). */
  dispose(all = false): void {
    for (const [name, t] of this.tensors) if (all || !this.taken.has(name)) t.free();
    this.tensors.clear();
  }
}
