/** The tensor arena: alignment, reuse, coalescing, growth, guards. */
import { describe, expect, it } from "vitest";
import { CanaryError, OutOfRangeError, TensorArena } from "../src/index";
import { rng } from "./util";

const PAGE = 65536;

describe("TensorArena", () => {
  it("aligns, reuses freed space and coalesces neighbours", () => {
    const mem = new WebAssembly.Memory({ initial: 2, maximum: 100 });
    const a = new TensorArena(mem, 1000);
    expect(a.base % 64).toBe(0);
    const p1 = a.alloc(10);
    const p2 = a.alloc(100, 16);
    const p3 = a.alloc(1000);
    for (const p of [p1, p2, p3]) expect(p % 16).toBe(0);
    expect(p1 % 64).toBe(0);
    expect(p2).toBeGreaterThanOrEqual(p1 + 10);
    expect(p3).toBeGreaterThanOrEqual(p2 + 100);
    a.release(p2);
    expect(a.alloc(100, 16)).toBe(p2); // first fit reuses the hole
    a.release(p1);
    a.release(p2);
    a.release(p3);
    expect(a.stats().freeBlocks).toBe(1); // everything merged back into one block
    expect(a.stats().used).toBe(0);
    expect(a.alloc(5000)).toBe(p1);
  });

  it("grows memory when nothing fits and keeps earlier data", () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 100 });
    const a = new TensorArena(mem, 64);
    const p = a.alloc(1000);
    a.bytes.fill(7, p, p + 1000);
    const big = a.alloc(5 * PAGE);
    expect(mem.buffer.byteLength).toBeGreaterThanOrEqual(big + 5 * PAGE);
    expect(a.bytes.subarray(p, p + 1000).every((v) => v === 7)).toBe(true);
    expect(a.stats().peak).toBeGreaterThanOrEqual(5 * PAGE + 1000);
  });

  it("reports exhaustion instead of crashing", () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 2 });
    const a = new TensorArena(mem, 64);
    expect(() => a.alloc(3 * PAGE)).toThrow(OutOfRangeError);
    expect(() => a.alloc(-1)).toThrow(OutOfRangeError);
    expect(() => a.alloc(8, 3)).toThrow(OutOfRangeError);
    expect(() => a.release(12345)).toThrow(/not a live allocation/);
  });

  it("guard bytes catch under- and overruns", () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const a = new TensorArena(mem, 64, { canaries: true });
    const p = a.alloc(40, 4);
    a.check();
    a.bytes[p - 1] ^= 1;
    expect(() => a.check()).toThrow(/before/);
    a.bytes[p - 1] ^= 1;
    a.bytes[p + 40] ^= 1;
    expect(() => a.check()).toThrow(CanaryError);
    expect(() => a.check()).toThrow(/after/);
  });

  it("random alloc/free keeps allocations disjoint and accounting exact", () => {
    const mem = new WebAssembly.Memory({ initial: 1, maximum: 1000 });
    const a = new TensorArena(mem, 64, { canaries: true });
    const r = rng(5);
    const live = new Map<number, number>();
    for (let i = 0; i < 3000; i++) {
      if (live.size && r() < 0.45) {
        const keys = [...live.keys()];
        const p = keys[Math.floor(r() * keys.length)];
        a.release(p);
        live.delete(p);
      } else {
        const n = Math.floor(r() ** 3 * 200000);
        const p = a.alloc(n, [1, 4, 16, 64][Math.floor(r() * 4)]);
        // fill to prove nobody else owns these bytes
        a.bytes.fill(i & 0xff, p, p + n);
        live.set(p, n);
      }
      if (i % 250 === 0) a.check();
    }
    const spans = [...live.entries()].sort((x, y) => x[0] - y[0]);
    for (let i = 1; i < spans.length; i++) expect(spans[i][0]).toBeGreaterThanOrEqual(spans[i - 1][0] + spans[i - 1][1]);
    expect(a.stats().allocations).toBe(live.size);
    for (const p of live.keys()) a.release(p);
    expect(a.stats().used).toBe(0);
    expect(a.stats().freeBlocks).toBe(1);
  });
});
