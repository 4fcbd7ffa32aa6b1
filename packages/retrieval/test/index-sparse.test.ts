import { describe, expect, it } from "vitest";
import { BruteForceSparse, type SearchResult, SparseIndex, type SparseVector, SyntheticSparse } from "../src/index/index";
import type { SyntheticOptions } from "../src/index/synthetic";

function scaled(v: SparseVector, by: number): SparseVector {
  return { ids: v.ids, weights: Float32Array.from(v.weights, (w) => w * by) };
}

function same(got: SearchResult, want: SearchResult, what: string): void {
  expect(Array.from(got.ids), `${what}: ids`).toEqual(Array.from(want.ids));
  expect(Array.from(got.scores), `${what}: scores`).toEqual(Array.from(want.scores));
}

function checkQueries(idx: SparseIndex, bf: BruteForceSparse, queries: SparseVector[], what: string): void {
  queries.forEach((q, i) => {
    for (const k of [1, 10, 100]) same(idx.search(q, k), bf.search(q, k), `${what}, query ${i}, k ${k}`);
  });
}

const COLLECTIONS: { name: string; vocab: number; docs: number; opts: Partial<SyntheticOptions>; scale?: number }[] = [
  { name: "zipf, log-normal weights", vocab: 3000, docs: 5000, opts: { docTerms: [1, 150] as [number, number] } },
  // impacts near the 65535 cap: scores pass 2^31, where the index accumulates in u64
  { name: "large weights (scores past 2^31)", vocab: 1000, docs: 3000, opts: { docTerms: [1, 80] as [number, number] }, scale: 300 },
  { name: "zipf, few weight levels (many ties)", vocab: 800, docs: 4000, opts: { docTerms: [1, 60] as [number, number], levels: 3 } },
  {
    name: "steep zipf, small vocab",
    vocab: 200,
    docs: 3000,
    opts: { docTerms: [1, 40] as [number, number], exponent: 1.3, queryTerms: [1, 20] as [number, number] },
  },
];

describe("SparseIndex: exact top-k against brute force", () => {
  for (const c of COLLECTIONS) {
    it(`${c.name}: before and after adds and deletes`, async () => {
      const gen = new SyntheticSparse({ seed: 7, vocab: c.vocab, ...c.opts });
      const idx = await SparseIndex.create({ vocab: c.vocab });
      const bf = new BruteForceSparse(c.vocab);
      const docs = Array.from({ length: c.docs }, () => scaled(gen.doc(), c.scale ?? 1));
      const queries = Array.from({ length: 120 }, () => scaled(gen.query(), c.scale ?? 1));
      // in several batches with searches between: several segments, merged as they grow
      let next = 0;
      for (const n of [1, 7, 300, 1000, c.docs - 1308]) {
        const batch = docs.slice(next, next + n);
        const ids = idx.addBatch(batch);
        for (let i = 0; i < n; i++) bf.add(ids[i], batch[i]);
        next += n;
        checkQueries(idx, bf, queries.slice(0, 10), `after ${next} docs`);
      }
      expect(idx.size).toBe(c.docs);
      checkQueries(idx, bf, queries, "all added");

      // delete a third (in sealed segments), add more (pending), delete some of those
      for (let id = 0; id < c.docs; id += 3) {
        expect(idx.delete(id)).toBe(true);
        bf.delete(id);
      }
      expect(idx.delete(0)).toBe(false);
      const more = Array.from({ length: 500 }, () => scaled(gen.doc(), c.scale ?? 1));
      more.forEach((d, i) => {
        idx.add(100_000 + i * 7, d);
        bf.add(100_000 + i * 7, d);
      });
      for (let i = 0; i < 500; i += 5) {
        idx.delete(100_000 + i * 7);
        bf.delete(100_000 + i * 7);
      }
      // a deleted id comes back with another vector
      idx.add(3, more[1]);
      bf.add(3, more[1]);
      expect(idx.stats().pendingDocs).toBeGreaterThan(0);
      checkQueries(idx, bf, queries, "after deletes and adds");
      const s = idx.stats();
      expect(s.docs).toBe(bf.size);
      expect(s.deletedDocs).toBeGreaterThan(0);

      idx.optimize();
      expect(idx.stats().segments).toBe(1);
      expect(idx.stats().deletedDocs).toBe(0);
      checkQueries(idx, bf, queries.slice(0, 40), "after optimize");
    });
  }

  it("scores given documents exactly (NaN when absent)", async () => {
    const gen = new SyntheticSparse({ seed: 3, vocab: 500, docTerms: [1, 50] });
    const idx = await SparseIndex.create({ vocab: 500 });
    const bf = new BruteForceSparse(500);
    for (let i = 0; i < 3000; i++) {
      const d = gen.doc();
      idx.add(i * 2, d);
      bf.add(i * 2, d);
    }
    const q = gen.query();
    const ids = [0, 2, 5, 4000, 5998, 1_000_000];
    const got = idx.scoreDocs(q, ids);
    ids.forEach((id, i) => {
      const want = bf.score(q, id);
      if (want === undefined) expect(got[i]).toBeNaN();
      else expect(got[i]).toBe(want);
    });
  });

  it("assigns sequential ids after the largest one and returns fewer than k when few match", async () => {
    const idx = await SparseIndex.create({ vocab: 10 });
    expect(idx.add({ ids: [1], weights: [0.5] })).toBe(0);
    expect(idx.add(41, { ids: [1, 2], weights: [0.5, 1] })).toBe(41);
    expect(idx.add({ ids: [3], weights: [2] })).toBe(42);
    const r = idx.search({ ids: [1, 2], weights: [1, 1] }, 10);
    expect(Array.from(r.ids)).toEqual([41, 0]);
    expect(Array.from(r.scores)).toEqual([50 * 100 + 100 * 100, 50 * 100]);
    // weights that round to impact 0 are dropped: nothing matches
    expect(idx.search({ ids: [1], weights: [0.004] }, 3).ids.length).toBe(0);
    expect(idx.search({ ids: [], weights: [] }, 3).ids.length).toBe(0);
  });

  it("breaks ties by the lower document id", async () => {
    const idx = await SparseIndex.create({ vocab: 4 });
    const v = { ids: [2], weights: [1] };
    for (const id of [9, 3, 7, 1, 5]) idx.add(id, v);
    idx.delete(1);
    const r = idx.search(v, 3);
    expect(Array.from(r.ids)).toEqual([3, 5, 7]);
  });
});
