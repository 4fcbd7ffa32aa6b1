/**
 * The worker pool: every threaded op gives the same bits as one thread, for any thread
 * count and any split (minParallelWork 0 splits even the smallest op), canaries hold, and
 * the pool shuts down without keeping the process alive.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AttentionMask, type MatmulWeightDType, WasmBackend } from "../src/index";
import { rng, snapshot, uniform } from "./util";

const THREADS = [2, 3, 4];
let one: WasmBackend;
const many: WasmBackend[] = [];

beforeAll(async () => {
  one = await WasmBackend.create({ canaries: true });
  for (const threads of THREADS) many.push(await WasmBackend.create({ threads, minParallelWork: 0, canaries: true }));
});
afterAll(() => {
  for (const b of many) b.close();
});

describe("worker pool", () => {
  it("starts the threads it was asked for", () => {
    expect(many.map((b) => b.threads)).toEqual(THREADS);
    for (const b of many) expect(b.threadsNote).toBeNull();
  });

  const dtypes: MatmulWeightDType[] = ["f32", "f16", "q8_0", "q4_0"];
  // rows: below one 8-row unit, odd tails, multiples of 4 (x4 layout) and of 8, and long
  // rows (> 2560 columns take the f32 eight-row path)
  const shapes: [number, number, number][] = [
    [4, 64, 1],
    [12, 64, 3],
    [36, 96, 1],
    [100, 64, 2],
    [101, 32, 5],
    [256, 2592, 1],
    [264, 2592, 3],
    [1000, 128, 17],
  ];
  for (const dtype of dtypes) {
    for (const [rows, cols, n] of shapes) {
      it(`matmul ${dtype} ${rows}x${cols} n=${n}: same bits on 1..4 threads`, () => {
        const r = rng(rows * 31 + cols + n);
        const W = uniform(r, rows * cols);
        const X = uniform(r, n * cols, -3, 3);
        const run = (b: WasmBackend) => {
          const w = b.fromF32(dtype, [rows, cols], W);
          const x = b.tensor("f32", [n, cols], X);
          const y = b.empty("f32", [n, rows]);
          b.matmul(y, w, x);
          const out = snapshot([y])[0];
          b.checkCanaries();
          for (const t of [w, x, y]) t.free();
          return out;
        };
        const want = run(one);
        for (const b of many) expect(run(b)).toEqual(want);
      });
    }
  }

  // matmulShared: one x for several weights (q/k/v, gate/up), on 1..4 threads, against
  // each product as its own matmul on one thread; mixed dtypes and layouts split into groups
  const sharedCases: [string, [MatmulWeightDType, number][], number, number][] = [
    [
      "q8_0 q/k/v",
      [
        ["q8_0", 576],
        ["q8_0", 192],
        ["q8_0", 192],
      ],
      576,
      1,
    ],
    [
      "q4_0 gate/up",
      [
        ["q4_0", 1536],
        ["q4_0", 1536],
      ],
      576,
      3,
    ],
    [
      "f32 with a small product",
      [
        ["f32", 100],
        ["f32", 4],
        ["f32", 36],
      ],
      96,
      2,
    ],
    [
      "f16",
      [
        ["f16", 64],
        ["f16", 72],
      ],
      64,
      5,
    ],
    [
      "mixed dtypes",
      [
        ["q8_0", 64],
        ["f32", 40],
        ["q4_0", 64],
        ["q8_0", 12],
      ],
      128,
      2,
    ],
  ];
  for (const [name, products, cols, n] of sharedCases) {
    it(`matmulShared ${name}: each output the bits of its own matmul, on 1..4 threads`, () => {
      const r = rng(cols * 13 + n + products.length);
      const Ws = products.map(([, rows]) => uniform(r, rows * cols));
      const X = uniform(r, n * cols, -3, 3);
      const setup = (b: WasmBackend) => {
        const ws = products.map(([dtype, rows], i) => b.fromF32(dtype, [rows, cols], Ws[i]));
        const x = b.tensor("f32", [n, cols], X);
        const ys = products.map(([, rows]) => b.empty("f32", [n, rows]));
        const free = () => {
          for (const t of [...ws, x, ...ys]) t.free();
        };
        return { ws, x, ys, free };
      };
      const single = setup(one);
      for (let i = 0; i < products.length; i++) one.matmul(single.ys[i], single.ws[i], single.x);
      const want = snapshot(single.ys);
      single.free();
      for (const b of [one, ...many]) {
        const t = setup(b);
        b.matmulShared(
          t.ys.map((y, i) => [y, t.ws[i]] as const),
          t.x,
        );
        expect(snapshot(t.ys)).toEqual(want);
        b.checkCanaries();
        t.free();
      }
    });
  }

  it("matmulShared refuses overlapping outputs and weights of another width", () => {
    const w = one.fromF32("f32", [8, 16], new Float32Array(128));
    const w2 = one.fromF32("f32", [8, 32], new Float32Array(256));
    const x = one.tensor("f32", [1, 16], new Float32Array(16));
    const y = one.empty("f32", [1, 16]);
    const a = one.view(y, 0, "f32", [1, 8]);
    const b = one.view(y, 16, "f32", [1, 8]);
    expect(() =>
      one.matmulShared(
        [
          [a, w],
          [b, w],
        ],
        x,
      ),
    ).toThrow(/overlap/);
    expect(() =>
      one.matmulShared(
        [
          [a, w],
          [one.view(y, 32, "f32", [1, 8]), w2],
        ],
        x,
      ),
    ).toThrow(/matmulShared product 1/);
    for (const t of [w, w2, x, y]) t.free();
  });

  const masks = (nQ: number): [string, AttentionMask][] => {
    const tree = new Uint8Array(nQ * nQ);
    const parent = Array.from({ length: nQ }, (_, i) => (i === 0 ? -1 : (i * 7) % i));
    for (let i = 0; i < nQ; i++) for (let j = i; j >= 0; j = parent[j]) tree[i * nQ + j] = 1;
    return [
      ["none", "none"],
      ["causal", "causal"],
      ["tree", tree],
    ];
  };
  for (const [nQ, kvLen, nHeads, nKv, headDim] of [
    [1, 9, 9, 3, 64],
    [5, 40, 8, 2, 16],
    [16, 70, 3, 1, 8],
    [4, 33, 2, 2, 36],
    // several V blocks of a group; a group larger than the kernel's batch of 8 heads
    [1, 300, 9, 3, 64],
    [2, 37, 20, 2, 24],
  ]) {
    for (const [[name, mask], cache] of masks(nQ).flatMap((m) => [m, m].map((mm, i) => [mm, i ? "f16" : "f32"] as const))) {
      it(`attention ${name} q=${nQ} kv=${kvLen} heads=${nHeads}/${nKv} d=${headDim} ${cache} cache: same bits on 1..4 threads`, () => {
        const r = rng(nQ * 100 + kvLen + nHeads);
        const cap = kvLen + 3;
        const Q = uniform(r, nQ * nHeads * headDim, -2, 2);
        const K = uniform(r, nKv * cap * headDim, -2, 2);
        const V = uniform(r, nKv * cap * headDim);
        const run = (b: WasmBackend) => {
          const q = b.tensor("f32", [nQ, nHeads, headDim], Q);
          const k = b.fromF32(cache, [nKv, cap, headDim], K);
          const v = b.fromF32(cache, [nKv, cap, headDim], V);
          const o = b.empty("f32", [nQ, nHeads, headDim]);
          b.attention(o, q, k, v, { kvLen, mask });
          const out = snapshot([o])[0];
          b.checkCanaries();
          for (const t of [q, k, v, o]) t.free();
          return out;
        };
        const want = run(one);
        for (const b of many) expect(run(b)).toEqual(want);
      });
    }
  }

  it("a closed pool leaves a working single-threaded backend", async () => {
    const b = await WasmBackend.create({ threads: 2, minParallelWork: 0 });
    const r = rng(5);
    const W = uniform(r, 64 * 64);
    const X = uniform(r, 64);
    const w = b.fromF32("f32", [64, 64], W);
    const x = b.tensor("f32", [1, 64], X);
    const y = b.empty("f32", [1, 64]);
    b.matmul(y, w, x);
    const before = snapshot([y])[0];
    b.close();
    b.close();
    expect(b.threads).toBe(1);
    b.matmul(y, w, x);
    expect(snapshot([y])[0]).toEqual(before);
  });

  it("falls back to one thread, saying why, on a page that is not cross-origin isolated", async () => {
    const g = globalThis as { crossOriginIsolated?: boolean };
    g.crossOriginIsolated = false;
    try {
      const b = await WasmBackend.create({ threads: 4 });
      expect(b.threads).toBe(1);
      expect(b.threadsNote).toMatch(/cross-origin isolated/);
      const w = b.fromF32("f32", [64, 64], new Float32Array(64 * 64).fill(0.5));
      const x = b.tensor("f32", [1, 64], new Float32Array(64).fill(2));
      const y = b.empty("f32", [1, 64]);
      b.matmul(y, w, x);
      expect((b.read(y) as Float32Array)[63]).toBe(64);
    } finally {
      delete g.crossOriginIsolated;
    }
  });

  it("rejects a thread count that is not 1..8 or auto", async () => {
    await expect(WasmBackend.create({ threads: 0 })).rejects.toThrow(/threads must be/);
    await expect(WasmBackend.create({ threads: 2.5 })).rejects.toThrow(/threads must be/);
    await expect(WasmBackend.create({ threads: 99 })).rejects.toThrow(/threads must be/);
  });

  it("a process that never closes its pool still exits, and one that does exits too", () => {
    const dist = fileURLToPath(new URL("../dist/index.js", import.meta.url));
    for (const close of [false, true]) {
      const script = join(tmpdir(), `edgespec-pool-exit-${process.pid}-${close}.mjs`);
      writeFileSync(
        script,
        `import { WasmBackend } from ${JSON.stringify(dist)};
const b = await WasmBackend.create({ threads: 3, minParallelWork: 0 });
const w = b.fromF32("f32", [256, 256], new Float32Array(256 * 256).fill(0.5));
const x = b.tensor("f32", [1, 256], new Float32Array(256).fill(2));
const y = b.empty("f32", [1, 256]);
b.matmul(y, w, x);
${close ? "b.close();" : ""}
console.log(b.read(y)[255], ${close ? "b.threads" : "b.threads"});
`,
      );
      const t0 = Date.now();
      const out = execFileSync(process.execPath, [script], { encoding: "utf8", timeout: 20_000 });
      expect(out.trim()).toBe(close ? "256 1" : "256 3");
      expect(Date.now() - t0).toBeLessThan(15_000);
    }
  });
});
