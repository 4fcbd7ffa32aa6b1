import { splitmix32 } from "@edgespec/runtime";
import { describe, expect, it } from "vitest";
import {
  BruteForceDense,
  BruteForceSparse,
  DenseIndex,
  fuseScore,
  HybridIndex,
  type HybridWeights,
  type SearchResult,
  SyntheticSparse,
} from "../src/index/index";
import { TopK } from "../src/index/topk";

function same(got: SearchResult, want: SearchResult, what: string): void {
  expect(Array.from(got.ids), `${what}: ids`).toEqual(Array.from(want.ids));
  expect(Array.from(got.scores), `${what}: scores`).toEqual(Array.from(want.scores));
}

function vector(rand: () => number, dim: number, coarse = false): Float32Array {
  return Float32Array.from({ length: dim }, () => (coarse ? Math.floor(rand() * 3) - 1 : rand() * 2 - 1));
}

describe("DenseIndex", () => {
  it("equals brute force exactly, with deletes, ties and odd dimensions", async () => {
    for (const [dim, coarse] of [
      [7, false],
      [32, false],
      [5, true],
    ] as [number, boolean][]) {
      const rand = splitmix32(dim);
      const idx = await DenseIndex.create({ dim });
      const bf = new BruteForceDense(dim);
      for (let i = 0; i < 1500; i++) {
        const v = vector(rand, dim, coarse);
        idx.add(i, v);
        bf.add(i, v);
      }
      for (let i = 0; i < 1500; i += 7) {
        idx.delete(i);
        bf.delete(i);
      }
      for (let qi = 0; qi < 40; qi++) {
        const q = vector(rand, dim, coarse);
        for (const k of [1, 10, 100]) same(idx.search(q, k), bf.search(q, k), `dim ${dim}, query ${qi}, k ${k}`);
      }
      idx.optimize();
      const q = vector(rand, dim);
      same(idx.search(q, 50), bf.search(q, 50), `dim ${dim} after optimize`);
      const loaded = await DenseIndex.load(idx.save());
      same(loaded.search(q, 50), bf.search(q, 50), `dim ${dim} after load`);
    }
  });
});

describe("hybrid search", () => {
  const WEIGHTS: HybridWeights[] = [{}, { sparse: 1, dense: 0 }, { sparse: 0, dense: 1 }, { sparse: 3, dense: 0.25 }, { sparse: 0.01, dense: 5 }];

  it("equals brute force of the fused score over the whole collection", async () => {
    const vocab = 400;
    const dim = 12;
    const gen = new SyntheticSparse({ seed: 21, vocab, docTerms: [1, 40] });
    const rand = splitmix32(99);
    const h = await HybridIndex.create({ vocab, dim });
    const bs = new BruteForceSparse(vocab);
    const bd = new BruteForceDense(dim);
    const add = (id: number) => {
      const doc = { sparse: gen.doc(), dense: vector(rand, dim) };
      h.add(id, doc);
      bs.add(id, doc.sparse);
      bd.add(id, doc.dense);
    };
    for (let i = 0; i < 2500; i++) add(i);
    for (let i = 0; i < 2500; i += 5) {
      h.delete(i);
      bs.delete(i);
      bd.delete(i);
    }
    for (let i = 0; i < 100; i++) add(10_000 + i);
    let widened = 0;
    for (let qi = 0; qi < 30; qi++) {
      const q = { sparse: gen.query(), dense: vector(rand, dim) };
      const ss = bs.scoresById(q.sparse);
      const ds = bd.scoresById(q.dense);
      for (const w of WEIGHTS) {
        for (const k of [1, 10, 100]) {
          const top = new TopK(k);
          for (const [id, d] of ds) top.offer(fuseScore(d, ss.get(id)!, w), id);
          // small first candidate lists force the widening rounds
          const got = h.search(q, k, { weights: w, candidates: k });
          if (got.rounds > 1) widened++;
          same(got, top.result(), `query ${qi}, weights ${JSON.stringify(w)}, k ${k}`);
        }
      }
    }
    expect(widened).toBeGreaterThan(0);
  });

  it("the default weights are the dot product of concatenated [dense ‖ sparse] vectors", async () => {
    const h = await HybridIndex.create({ vocab: 10, dim: 2 });
    h.add(1, { sparse: { ids: [3, 4], weights: [0.5, 0.25] }, dense: [1, 2] });
    h.add(2, { sparse: { ids: [4], weights: [2] }, dense: [0.5, -1] });
    const r = h.search({ sparse: { ids: [4, 3], weights: [1, 2] }, dense: [0.25, 0.5] }, 2);
    // doc 1: 0.25 + 1 + (0.5 * 2 + 0.25 * 1) = 2.5; doc 2: 0.125 - 0.5 + 2 = 1.625
    expect(Array.from(r.ids)).toEqual([1, 2]);
    expect(r.scores[0]).toBeCloseTo(2.5, 12);
    expect(r.scores[1]).toBeCloseTo(1.625, 12);
  });
});
