import { splitmix32 } from "@edgespec/runtime";
import { describe, expect, it } from "vitest";
import { topIndices } from "../src/top-candidates";

describe("topIndices", () => {
  it("equals a full sort (best first, lower index on ties, -Infinity and NaN never chosen)", () => {
    const r = splitmix32(3);
    for (let trial = 0; trial < 3000; trial++) {
      const n = 1 + Math.floor(r() * 40);
      const k = 1 + Math.floor(r() * 10);
      // few distinct values so ties are common
      const a = Array.from({ length: n }, () => (r() < 0.1 ? Number.NEGATIVE_INFINITY : r() < 0.05 ? Number.NaN : Math.floor(r() * 8)));
      const want = a
        .map((v, i) => [v, i] as const)
        .filter(([v]) => v !== Number.NEGATIVE_INFINITY && !Number.isNaN(v))
        .sort((x, y) => y[0] - x[0] || x[1] - y[1])
        .slice(0, k)
        .map(([, i]) => i);
      expect(topIndices(a, k)).toEqual(want);
    }
  });
});
