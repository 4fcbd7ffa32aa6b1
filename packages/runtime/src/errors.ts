/**
 * Typed errors. Every check runs in TypeScript before a kernel is called, so a kernel
 * never sees a bad shape, dtype, length or pointer.
 */
export class EdgespecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** A tensor has the wrong rank or sizes for the operation. */
export class ShapeError extends EdgespecError {}

/** A tensor has a dtype the operation does not accept. */
export class DTypeError extends EdgespecError {}

/** Data has the wrong length, an index or pointer is out of range, or memory ran out. */
export class OutOfRangeError extends EdgespecError {}

/** A pointer or byte offset is not aligned for its dtype. */
export class AlignmentError extends EdgespecError {}

/** Outputs overlap inputs where the kernel cannot work in place. */
export class AliasError extends EdgespecError {}

/** A tensor was freed, or belongs to another backend. */
export class TensorStateError extends EdgespecError {}

/** Input data holds NaN or Infinity where finite numbers are required. */
export class NonFiniteError extends EdgespecError {}

/** A .wasm module could not be found, compiled or instantiated on this host. */
export class KernelLoadError extends EdgespecError {}

/** A kernel wrote outside its output: guard words around an allocation changed. */
export class CanaryError extends EdgespecError {}

/** A wasm kernel trapped. Validation should make this impossible; it is reported, never swallowed. */
export class KernelTrapError extends EdgespecError {}

/** The backend asked for cannot run here (no WebGPU, no adapter, the device was lost). */
export class BackendUnavailableError extends EdgespecError {}
