/**
 * The memory-bandwidth roofline: a SIMD sum over a 256 MB buffer (far past the caches), read on
 * every thread of the backend, so the limit matches the thread count being measured. Decoding
 * cannot go faster than weight bytes per token over this bandwidth.
 */
import type { WasmBackend } from "@edgespec/runtime";
import { rate } from "./stats";

export interface BandwidthProbe {
  /** one measurement in GB/s (about `ms` milliseconds of reading) */
  measure(ms?: number): number;
  /** give the buffer back to the arena */
  release(): void;
}

export function bandwidthProbe(backend: WasmBackend, bytes = 256 << 20): BandwidthProbe {
  const p = backend.arena.alloc(bytes, 64);
  backend.arena.bytes.fill(1, p, p + bytes);
  const probe = {
    measure: (ms = 250) => (bytes * rate(() => backend.streamRead(p, bytes), ms)) / 1e9,
    release: () => backend.arena.release(p),
  };
  // the first reads fault the pages in and run baseline code
  for (let i = 0; i < 2; i++) probe.measure(100);
  return probe;
}
