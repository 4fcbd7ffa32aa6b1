import type { DType } from "./dtype";
import { TensorStateError } from "./errors";

/**
 * Physical layout of a 2-D block-quantized weight: "rows" is GGUF's row-major block
 * order; "x4" interleaves groups of four rows block by block (the wasm backend's fast
 * matmul layout). Layout never changes what `read` returns: always the "rows" bytes.
 */
export type Layout = "rows" | "x4";

/** Where a GPU backend keeps a tensor: its root buffer and the byte offset into it. */
export interface GpuStorage {
  readonly root: number;
  readonly offset: number;
}

/** The part of a backend a tensor needs to know about. */
export interface TensorOwner {
  readonly name: string;
  /** @internal */ releaseTensor(t: Tensor): void;
}

/**
 * A tensor: dtype, shape and storage owned by one backend. Storage is an offset into
 * wasm memory for the wasm backend and a byte array for the reference backend.
 */
export class Tensor {
  #freed = false;

  /** @internal */
  constructor(
    readonly owner: TensorOwner,
    readonly dtype: DType,
    readonly shape: readonly number[],
    readonly byteLength: number,
    /** @internal backend-specific storage handle */
    readonly storage: number | Uint8Array | GpuStorage,
    readonly layout: Layout = "rows",
    /** set for views: the tensor whose bytes this one shares */
    readonly parent?: Tensor,
  ) {}

  get numel(): number {
    let n = 1;
    for (const d of this.shape) n *= d;
    return n;
  }

  get rank(): number {
    return this.shape.length;
  }

  get freed(): boolean {
    return this.#freed;
  }

  /** Release the storage. Using the tensor afterwards raises TensorStateError. */
  free(): void {
    if (this.#freed) return;
    if (!this.parent) this.owner.releaseTensor(this);
    this.#freed = true;
  }

  /** @internal */
  assertLive(what: string): void {
    if (this.#freed) throw new TensorStateError(`${what}: tensor [${this.shape.join(", ")}] ${this.dtype} was freed`);
    if (this.parent?.freed) throw new TensorStateError(`${what}: the buffer under this view was freed`);
  }

  toString(): string {
    return `Tensor(${this.dtype}, [${this.shape.join(", ")}]${this.layout === "x4" ? ", x4" : ""})`;
  }
}
