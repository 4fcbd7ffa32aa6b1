/** The pooling and pruning helpers every encoder shares, on hand-made logits. */
import { describe, expect, it } from "vitest";
import { bagOfIds, reluMaxPool, sparseDot, sparseTerms, sparsify, spladePool, truncateWithSpecials } from "../src/encoders/index";

// 3 positions x 4 vocabulary entries
const logits = Float32Array.from([-1, 2, 0.5, -3, 4, -2, 0.5, -1, 1, 1, -0.5, -2]);

describe("pooling", () => {
  it("SPLADE max and sum of log(1 + relu(x))", () => {
    expect([...spladePool(logits, 4, "max")]).toEqual([Math.log1p(4), Math.log1p(2), Math.log1p(0.5), 0].map(Math.fround));
    expect([...spladePool(logits, 4, "sum")]).toEqual([Math.log1p(4) + Math.log1p(1), Math.log1p(2) + Math.log1p(1), 2 * Math.log1p(0.5), 0].map(Math.fround));
    expect([...spladePool(logits, 4, "max", [2])]).toEqual([Math.log1p(1), Math.log1p(1), 0, 0].map(Math.fround));
    expect([...spladePool(logits, 4, "max", [])]).toEqual([0, 0, 0, 0]);
  });

  it("DupMAE's relu max", () => {
    expect([...reluMaxPool(logits, 4, [0, 2])]).toEqual([1, 2, 0.5, 0]);
    expect([...reluMaxPool(logits, 4, [])]).toEqual([0, 0, 0, 0]);
  });
});

describe("sparsify", () => {
  const dense = Float32Array.from([0, 3, 1, 3, 0.5, 2]);
  it("drops zeros, keeps ids ascending", () => {
    expect(sparsify(dense)).toEqual({ ids: Int32Array.from([1, 2, 3, 4, 5]), weights: Float32Array.from([3, 1, 3, 0.5, 2]) });
  });
  it("top k (ties: lower id first), minimum weight, zeroed ids", () => {
    expect([...sparsify(dense, { topK: 2 }).ids]).toEqual([1, 3]);
    expect([...sparsify(dense, { topK: 1 }).ids]).toEqual([1]);
    expect([...sparsify(dense, { topK: 3 }).ids]).toEqual([1, 3, 5]);
    expect([...sparsify(dense, { minWeight: 2 }).ids]).toEqual([1, 3, 5]);
    expect([...sparsify(dense, { zeroIds: [1], topK: 2 }).ids]).toEqual([3, 5]);
    expect(sparsify(dense, { topK: 0 }).ids.length).toBe(0);
    expect(() => sparsify(dense, { topK: -1 })).toThrow(/topK/);
    expect(() => sparsify(dense, { minWeight: Number.NaN })).toThrow(/minWeight/);
  });
});

describe("sparse vectors", () => {
  it("dot product over shared ids", () => {
    expect(sparseDot({ ids: [1, 4, 9], weights: [1, 2, 3] }, { ids: Int32Array.from([0, 4, 9, 12]), weights: Float32Array.from([5, 10, 100, 7]) })).toBe(320);
    expect(sparseDot({ ids: [], weights: [] }, { ids: [1], weights: [1] })).toBe(0);
  });
  it("bag of ids and terms", () => {
    const bag = bagOfIds([7, 3, 7, 5], (id) => (id === 5 ? 0 : id / 10));
    expect([...bag.ids]).toEqual([3, 7]);
    expect([...bag.weights]).toEqual([0.3, 0.7].map(Math.fround));
    expect(sparseTerms(bag, (id) => `t${id}`)).toEqual([
      { term: "t7", id: 7, weight: Math.fround(0.7) },
      { term: "t3", id: 3, weight: Math.fround(0.3) },
    ]);
  });
  it("truncation keeps the trailing special token", () => {
    expect(truncateWithSpecials([101, 1, 2, 3, 102], 4)).toEqual([101, 1, 2, 102]);
    expect(truncateWithSpecials([101, 1, 102], 4)).toEqual([101, 1, 102]);
    expect(() => truncateWithSpecials([101, 1, 102], 1)).toThrow(/cannot fit/);
  });
});
