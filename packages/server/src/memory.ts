/**
 * Wasm memory as /healthz reports it. A Worker isolate has 128 MB for everything, and almost
 * all of it goes to WebAssembly memories: the kernels' tensor arena (weights, KV caches,
 * scratch) and the Rust module's index. A WebAssembly.Memory never shrinks, so its size is
 * also the peak it reached, loads included; the arena's peak says how much of it was ever
 * handed out at once.
 */

/** A WasmBackend (memory + arena stats) or anything else that owns a wasm memory. */
export interface MemoryHolder {
  memory: { buffer: { byteLength: number } };
  memoryStats?(): { used: number; peak: number };
}

/** A SparseIndex / HybridIndex-like holder: its module's memory is in its stats. */
export interface IndexMemoryHolder {
  stats(): { memoryBytes: number };
}

export interface MemoryPart {
  wasm_bytes: number;
  arena_used_bytes?: number;
  arena_peak_bytes?: number;
  /** the part whose memory this is too (counted once in the totals) */
  shared_with?: string;
  /**
   * taken when the part finished loading: its wasm_bytes is the most the load needed (the
   * memory grew to it and cannot shrink), arena_peak_bytes the most it held at once
   */
  loaded?: MemoryPart;
}

/** A named memory for the report, with the snapshot taken when it finished loading, if any. */
export type MemoryEntry = [name: string, holder: MemoryHolder | IndexMemoryHolder | undefined, loaded?: MemoryPart];

export interface MemoryReport {
  /** every wasm memory together: what the isolate's limit is spent on first */
  wasm_bytes: number;
  arena_used_bytes: number;
  arena_peak_bytes: number;
  parts: Record<string, MemoryPart>;
}

function isIndex(h: MemoryHolder | IndexMemoryHolder): h is IndexMemoryHolder {
  return !("memory" in h) && typeof (h as IndexMemoryHolder).stats === "function";
}

/** The holder's memory now. */
export function snapshot(h: MemoryHolder | IndexMemoryHolder): MemoryPart {
  if (isIndex(h)) return { wasm_bytes: h.stats().memoryBytes };
  const part: MemoryPart = { wasm_bytes: h.memory.buffer.byteLength };
  const s = h.memoryStats?.();
  if (s) {
    part.arena_used_bytes = s.used;
    part.arena_peak_bytes = s.peak;
  }
  return part;
}

/** One report over named holders; a memory shared by several names is counted once. */
export function memoryReport(entries: Iterable<MemoryEntry>): MemoryReport {
  const report: MemoryReport = { wasm_bytes: 0, arena_used_bytes: 0, arena_peak_bytes: 0, parts: {} };
  const seen = new Map<object, string>();
  for (const [name, h, loaded] of entries) {
    if (!h) continue;
    const key = isIndex(h) ? h : (h.memory as object);
    const already = seen.get(key);
    if (already !== undefined) {
      report.parts[name] = { ...report.parts[already], shared_with: already, ...(loaded ? { loaded } : {}) };
      continue;
    }
    seen.set(key, name);
    const part = snapshot(h);
    if (loaded) part.loaded = loaded;
    report.parts[name] = part;
    report.wasm_bytes += part.wasm_bytes;
    report.arena_used_bytes += part.arena_used_bytes ?? 0;
    report.arena_peak_bytes += part.arena_peak_bytes ?? 0;
  }
  return report;
}
