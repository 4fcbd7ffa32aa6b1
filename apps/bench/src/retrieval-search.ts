/**
 * Exact sparse top-10 search speed: the impact index (block-max MaxScore in the Rust wasm
 * module) against brute force (every document scored in TypeScript from a flat forward
 * store, the scorer the tests use), on a synthetic SPLADE-like collection (SyntheticSparse:
 * Zipfian term ids over 30,522 with ~120 distinct terms per document, log-normal weights
 * scaled down for frequent terms, queries of 5-20 terms drawn the same way).
 *
 * Single-threaded. QPS and latency percentiles come from `queries` timed searches after a
 * warm-up. The speedup is brute force's median over a sample of those queries (the last
 * 100) over the index's median on the same queries; on that sample the index's top-10 (ids
 * and scores) must equal brute force's or the benchmark throws.
 */
import { BruteForceSparse, SparseIndex, SyntheticSparse } from "@edgespec/retrieval";
import { median, percentile } from "./stats";

export interface SearchBenchResult {
  docs: number;
  qps: number;
  p50_ms: number;
  p99_ms: number;
  bytes_per_doc: number;
  speedup_vs_bruteforce: number;
  bruteforce_ms: number;
  build_s: number;
}

const K = 10;
const BATCH = 8192;

export async function benchSearch(opts: { docs: number; queries: number; seed: number; log?: (s: string) => void }): Promise<SearchBenchResult> {
  const log = opts.log ?? (() => {});
  const gen = new SyntheticSparse({ seed: opts.seed });
  const index = await SparseIndex.create({ vocab: gen.vocab });
  const brute = new BruteForceSparse(gen.vocab);
  let buildMs = 0;
  for (let start = 0; start < opts.docs; start += BATCH) {
    const n = Math.min(BATCH, opts.docs - start);
    const docs = Array.from({ length: n }, () => gen.doc());
    for (let i = 0; i < n; i++) brute.add(start + i, docs[i]);
    const t0 = performance.now();
    index.addBatch(docs);
    buildMs += performance.now() - t0;
  }
  const t0 = performance.now();
  index.optimize();
  buildMs += performance.now() - t0;
  const stats = index.stats();
  log(
    `built ${opts.docs} docs in ${(buildMs / 1000).toFixed(2)} s: ${stats.postings} postings, ${stats.bytesPerDoc.toFixed(1)} bytes/doc, wasm memory ${(stats.memoryBytes / 2 ** 20).toFixed(0)} MiB`,
  );

  const queries = Array.from({ length: opts.queries }, () => gen.query());
  for (const q of queries.slice(0, Math.min(20, queries.length))) index.search(q, K);
  const times: number[] = [];
  const all0 = performance.now();
  for (const q of queries) {
    const t = performance.now();
    index.search(q, K);
    times.push(performance.now() - t);
  }
  const allMs = performance.now() - all0;

  // the speedup compares both engines on the same queries: brute force on a sample, and
  // the index's times for exactly those queries from the timed run above
  // (the last queries: the first ones also ran as the index's warm-up)
  const sampleSize = Math.min(queries.length, 100);
  const sampleStart = queries.length - sampleSize;
  brute.search(gen.query(), K); // brute force gets a warm-up too
  const bruteTimes: number[] = [];
  for (const q of queries.slice(sampleStart)) {
    const t = performance.now();
    const want = brute.search(q, K);
    bruteTimes.push(performance.now() - t);
    const got = index.search(q, K);
    const same = got.ids.length === want.ids.length && got.ids.every((id, i) => id === want.ids[i] && got.scores[i] === want.scores[i]);
    if (!same) throw new Error(`bench search: the index's top-${K} differs from brute force (index ${got.ids.join(",")} vs ${want.ids.join(",")})`);
  }
  const p50 = median(times);
  const bruteMs = median(bruteTimes);
  const indexMsOnSample = median(times.slice(sampleStart));
  const res: SearchBenchResult = {
    docs: opts.docs,
    qps: (queries.length * 1000) / allMs,
    p50_ms: p50,
    p99_ms: percentile(times, 99),
    bytes_per_doc: stats.bytesPerDoc,
    speedup_vs_bruteforce: bruteMs / indexMsOnSample,
    bruteforce_ms: bruteMs,
    build_s: buildMs / 1000,
  };
  log(
    `${opts.docs} docs: ${res.qps.toFixed(0)} QPS, p50 ${p50.toFixed(2)} ms, p99 ${res.p99_ms.toFixed(2)} ms, brute force ${bruteMs.toFixed(1)} ms (${res.speedup_vs_bruteforce.toFixed(0)}x), ${sampleSize} queries checked exact and compared`,
  );
  return res;
}
