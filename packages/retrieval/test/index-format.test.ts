import { beforeAll, describe, expect, it } from "vitest";
import { crc32 } from "../src/index/crc32";
import { DenseIndex, HybridIndex, IndexFormatError, SparseIndex, type SparseVector, SyntheticSparse } from "../src/index/index";

const VOCAB = 700;
let saved: Uint8Array;
let queries: SparseVector[];
let index: SparseIndex;

/** Byte ranges of the container: header (incl. table and its checksum) and each section. */
function layout(bytes: Uint8Array): { name: string; start: number; end: number }[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = dv.getUint32(12, true);
  const head = 16 + 12 * count + 4;
  const out = [{ name: "header", start: 0, end: head }];
  let at = head;
  for (let i = 0; i < count; i++) {
    const len = dv.getUint32(20 + 12 * i, true);
    out.push({ name: String.fromCharCode(...bytes.subarray(16 + 12 * i, 20 + 12 * i)), start: at, end: at + len });
    at += len;
  }
  return out;
}

/** Rewrite every checksum so that only the module's own checks can catch a change. */
function reseal(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const dv = new DataView(out.buffer);
  const parts = layout(out);
  parts.slice(1).forEach((p, i) => {
    dv.setUint32(24 + 12 * i, crc32(out.subarray(p.start, p.end)), true);
  });
  dv.setUint32(parts[0].end - 4, crc32(out.subarray(0, parts[0].end - 4)), true);
  return out;
}

async function rejects(bytes: Uint8Array, problem?: string): Promise<IndexFormatError> {
  let err: unknown;
  try {
    await SparseIndex.load(bytes);
  } catch (e) {
    err = e;
  }
  expect(err, "load should fail").toBeInstanceOf(IndexFormatError);
  const e = err as IndexFormatError;
  if (problem) expect(e.problem).toBe(problem);
  expect(e.message.length).toBeGreaterThan(10);
  return e;
}

describe("save / load", () => {
  beforeAll(async () => {
    const gen = new SyntheticSparse({ seed: 11, vocab: VOCAB, docTerms: [1, 80] });
    index = await SparseIndex.create({ vocab: VOCAB });
    index.addBatch(Array.from({ length: 3000 }, () => gen.doc()));
    for (let i = 0; i < 3000; i += 4) index.delete(i);
    index.add(50_000, gen.doc());
    queries = Array.from({ length: 40 }, () => gen.query());
    saved = index.save();
  });

  it("gives identical results after loading, and the same bytes when saved again", async () => {
    const loaded = await SparseIndex.load(saved);
    expect(loaded.size).toBe(index.size);
    for (const q of queries) {
      for (const k of [1, 10, 100]) {
        const a = index.search(q, k);
        const b = loaded.search(q, k);
        expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
        expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
      }
    }
    expect(loaded.save()).toEqual(saved);
    // the sequential id counter survives
    expect(loaded.add({ ids: [1], weights: [1] })).toBe(50_001);
  });

  it("round-trips an empty index", async () => {
    const empty = await SparseIndex.create({ vocab: 5 });
    const loaded = await SparseIndex.load(empty.save());
    expect(loaded.size).toBe(0);
    expect(loaded.vocab).toBe(5);
    expect(loaded.search({ ids: [1], weights: [1] }, 3).ids.length).toBe(0);
  });

  it("rejects a flipped byte anywhere (header, every section)", async () => {
    const parts = layout(saved);
    expect(parts.map((p) => p.name)).toEqual(["header", "META", "DOCS", "TERM", "BLKS", "POST"]);
    for (const p of parts) {
      const step = Math.max(1, Math.floor((p.end - p.start) / 7));
      for (let at = p.start; at < p.end; at += step) {
        const bad = saved.slice();
        bad[at] ^= 0x5a;
        const e = await rejects(bad);
        if (p.name !== "header") expect(e.section, `byte ${at} in ${p.name}`).toBe(p.name);
      }
    }
  });

  it("rejects truncation at many points and appended bytes", async () => {
    for (let n = 0; n < saved.length; n += Math.max(1, Math.floor(saved.length / 97))) await rejects(saved.subarray(0, n), n < 4 ? undefined : "truncated");
    await rejects(saved.subarray(0, saved.length - 1), "truncated");
    const longer = new Uint8Array(saved.length + 3);
    longer.set(saved);
    await rejects(longer, "trailing");
  });

  it("names wrong magic, kind and version", async () => {
    const magic = saved.slice();
    magic[0] = 0x50;
    expect((await rejects(magic, "magic")).message).toMatch(/magic/);
    const dense = await DenseIndex.create({ dim: 3 });
    expect((await rejects(dense.save(), "kind")).message).toMatch(/dense/);
    const version = saved.slice();
    new DataView(version.buffer).setUint32(8, 2, true);
    expect((await rejects(version, "version")).message).toMatch(/version 2/);
    await rejects(new Uint8Array(0));
  });

  it("rejects structurally broken sections even with valid checksums (no trap)", async () => {
    const parts = Object.fromEntries(layout(saved).map((p) => [p.name, p]));
    const cases: [string, number][] = [];
    for (const name of ["DOCS", "TERM", "BLKS", "POST"]) {
      const p = parts[name];
      for (let k = 0; k < 12; k++) cases.push([name, p.start + Math.floor(((p.end - p.start) * k) / 12)]);
    }
    let rejected = 0;
    for (const [name, at] of cases) {
      const bad = saved.slice();
      bad[at] ^= 0xff;
      let ok = false;
      try {
        const idx = await SparseIndex.load(reseal(bad));
        // a change the structure cannot notice (an impact inside its block's bounds, an
        // unused id) must still give a usable index
        idx.search(queries[0], 10);
        ok = true;
      } catch (e) {
        expect(e, `${name} byte ${at}`).toBeInstanceOf(IndexFormatError);
        rejected++;
      }
      expect(typeof ok).toBe("boolean");
    }
    expect(rejected).toBeGreaterThan(cases.length / 2);
    // a duplicated document id
    const dup = saved.slice();
    dup.copyWithin(parts.DOCS.start + 4, parts.DOCS.start, parts.DOCS.start + 4);
    const e = await rejects(reseal(dup), "layout");
    expect(e.section).toBe("DOCS");
  });

  it("round-trips dense and hybrid indexes and rejects their corruption", async () => {
    const h = await HybridIndex.create({ vocab: 50, dim: 6 });
    const gen = new SyntheticSparse({ seed: 5, vocab: 50, docTerms: [1, 10] });
    for (let i = 0; i < 200; i++) h.add(i * 3, { sparse: gen.doc(), dense: Array.from({ length: 6 }, (_, j) => Math.sin(i * 7 + j)) });
    h.delete(3);
    const bytes = h.save();
    const back = await HybridIndex.load(bytes);
    const q = { sparse: gen.query(), dense: [0.1, -0.3, 0.5, 0.2, 0, 1] };
    const a = h.search(q, 10);
    const b = back.search(q, 10);
    expect(Array.from(b.ids)).toEqual(Array.from(a.ids));
    expect(Array.from(b.scores)).toEqual(Array.from(a.scores));
    for (let at = 0; at < bytes.length; at += 37) {
      const bad = bytes.slice();
      bad[at] ^= 1;
      await expect(HybridIndex.load(bad)).rejects.toBeInstanceOf(IndexFormatError);
    }
    const dense = h.dense.save();
    await expect(DenseIndex.load(dense.subarray(0, dense.length - 5))).rejects.toThrow(/truncated/);
  });
});
