/**
 * The tensor arena: an allocator over the wasm linear memory above the kernels' own data.
 * First fit over an address-ordered free list with coalescing; memory grows in whole
 * pages when no free block fits. With `canaries`, every allocation is fenced by guard
 * bytes that `check()` verifies, so a kernel writing past its output is caught.
 */
import { CanaryError, OutOfRangeError } from "../errors";

const PAGE = 65536;
const GUARD = 64;

interface Block {
  start: number;
  size: number;
}

interface Allocation extends Block {
  ptr: number;
  bytes: number;
}

export interface ArenaStats {
  /** bytes of wasm memory the arena manages */
  capacity: number;
  /** bytes handed out (with padding and guards) */
  used: number;
  /** largest `used` seen */
  peak: number;
  allocations: number;
  freeBlocks: number;
}

export interface ArenaOptions {
  canaries?: boolean;
}

export class TensorArena {
  readonly base: number;
  readonly canaries: boolean;
  private free: Block[] = [];
  private live = new Map<number, Allocation>();
  private used = 0;
  private peak = 0;
  private view: Uint8Array;

  constructor(
    readonly memory: WebAssembly.Memory,
    base: number,
    opts: ArenaOptions = {},
  ) {
    this.base = alignUp(base, GUARD);
    this.canaries = !!opts.canaries;
    this.view = new Uint8Array(memory.buffer);
    const end = memory.buffer.byteLength;
    if (end > this.base) this.free.push({ start: this.base, size: end - this.base });
  }

  /** A byte view of the whole memory, refreshed when memory has grown. */
  get bytes(): Uint8Array {
    if (this.view.buffer !== this.memory.buffer || this.view.byteLength === 0) this.view = new Uint8Array(this.memory.buffer);
    return this.view;
  }

  /** Allocate `bytes` at a multiple of `align` (a power of two, at most 64). Returns the address. */
  alloc(bytes: number, align = 64): number {
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new OutOfRangeError(`arena: cannot allocate ${bytes} bytes`);
    if (align < 1 || align > GUARD || (align & (align - 1)) !== 0) throw new OutOfRangeError(`arena: alignment ${align} must be a power of two <= ${GUARD}`);
    const guard = this.canaries ? GUARD : 0;
    let found = this.fit(bytes, align, guard);
    if (!found) {
      this.grow(bytes + align + 2 * guard + GUARD);
      found = this.fit(bytes, align, guard);
      if (!found) throw new OutOfRangeError(`arena: no room for ${bytes} bytes after growing memory`);
    }
    const { index, ptr, end } = found;
    const blk = this.free[index];
    // the allocation takes [blk.start, end); what is left of the block stays free
    const rest = blk.start + blk.size - end;
    if (rest > 0) this.free[index] = { start: end, size: rest };
    else this.free.splice(index, 1);
    const a: Allocation = { start: blk.start, size: end - blk.start, ptr, bytes };
    this.live.set(ptr, a);
    this.used += a.size;
    this.peak = Math.max(this.peak, this.used);
    if (guard) this.paint(a);
    return ptr;
  }

  /** Return an allocation to the free list, checking its guards first when canaries are on. */
  release(ptr: number): void {
    const a = this.live.get(ptr);
    if (!a) throw new OutOfRangeError(`arena: 0x${ptr.toString(16)} is not a live allocation`);
    if (this.canaries) this.checkOne(a);
    this.live.delete(ptr);
    this.used -= a.size;
    this.insertFree({ start: a.start, size: a.size });
  }

  /** Size in bytes of a live allocation. */
  sizeOf(ptr: number): number {
    const a = this.live.get(ptr);
    if (!a) throw new OutOfRangeError(`arena: 0x${ptr.toString(16)} is not a live allocation`);
    return a.bytes;
  }

  /** Verify every live allocation's guard bytes. Throws CanaryError naming the damaged ones. */
  check(): void {
    if (!this.canaries) return;
    for (const a of this.live.values()) this.checkOne(a);
  }

  stats(): ArenaStats {
    return {
      capacity: this.memory.buffer.byteLength - this.base,
      used: this.used,
      peak: this.peak,
      allocations: this.live.size,
      freeBlocks: this.free.length,
    };
  }

  private fit(bytes: number, align: number, guard: number): { index: number; ptr: number; end: number } | null {
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i];
      const ptr = alignUp(b.start + guard, align);
      // keep the next block start 64-aligned so later allocations stay cache-line aligned
      const end = alignUp(ptr + bytes + guard, GUARD);
      if (end <= b.start + b.size) return { index: i, ptr, end };
    }
    return null;
  }

  private grow(minBytes: number): void {
    const oldEnd = this.memory.buffer.byteLength;
    const last = this.free[this.free.length - 1];
    const tail = last && last.start + last.size === oldEnd ? last.size : 0;
    const need = Math.max(minBytes - tail, PAGE);
    // grow geometrically (by at least 1/8 of the current size) to avoid many small grows
    const pages = Math.max(Math.ceil(need / PAGE), Math.ceil(oldEnd / PAGE / 8));
    try {
      this.memory.grow(pages);
    } catch {
      try {
        this.memory.grow(Math.ceil(need / PAGE));
      } catch {
        throw new OutOfRangeError(`arena: wasm memory exhausted: needed ${minBytes} more bytes, memory is ${oldEnd} bytes and cannot grow further`);
      }
    }
    this.insertFree({ start: oldEnd, size: this.memory.buffer.byteLength - oldEnd });
  }

  private insertFree(b: Block): void {
    // binary search for the insertion point, then merge with neighbours
    let lo = 0;
    let hi = this.free.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.free[mid].start < b.start) lo = mid + 1;
      else hi = mid;
    }
    this.free.splice(lo, 0, b);
    const next = this.free[lo + 1];
    if (next && b.start + b.size === next.start) {
      b.size += next.size;
      this.free.splice(lo + 1, 1);
    }
    const prev = this.free[lo - 1];
    if (prev && prev.start + prev.size === b.start) {
      prev.size += b.size;
      this.free.splice(lo, 1);
    }
  }

  private paint(a: Allocation): void {
    const m = this.bytes;
    for (let p = a.start; p < a.ptr; p++) m[p] = canaryByte(p);
    for (let p = a.ptr + a.bytes; p < a.start + a.size; p++) m[p] = canaryByte(p);
  }

  private checkOne(a: Allocation): void {
    const m = this.bytes;
    for (let p = a.start; p < a.ptr; p++) {
      if (m[p] !== canaryByte(p))
        throw new CanaryError(`arena: guard bytes before 0x${a.ptr.toString(16)} (${a.bytes} bytes) were overwritten at -${a.ptr - p}`);
    }
    for (let p = a.ptr + a.bytes; p < a.start + a.size; p++) {
      if (m[p] !== canaryByte(p))
        throw new CanaryError(`arena: guard bytes after 0x${a.ptr.toString(16)} (${a.bytes} bytes) were overwritten at +${p - a.ptr - a.bytes}`);
    }
  }
}

function canaryByte(p: number): number {
  return (p * 167 + 0x5a) & 0xff;
}

function alignUp(v: number, a: number): number {
  return Math.ceil(v / a) * a;
}
