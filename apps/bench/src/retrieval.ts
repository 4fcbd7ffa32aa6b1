/**
 * `edgespec bench retrieval [--quick] [--docs N] [--json]`: SPLADE encoding speed at the
 * bert-base shape (retrieval-encode.ts) and exact top-10 sparse search on a synthetic
 * collection of 1M SPLADE-like documents against brute force in the same run
 * (retrieval-search.ts). JSON: {encode_docs_s, qps, p50_ms, p99_ms, bytes_per_doc,
 * speedup_vs_bruteforce, ...}.
 */
import { benchEncode } from "./retrieval-encode";
import { benchSearch } from "./retrieval-search";

export async function benchRetrieval(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const quick = argv.includes("--quick");
  const at = argv.indexOf("--docs");
  const docs = at >= 0 ? Number(argv[at + 1]) : quick ? 100_000 : 1_000_000;
  if (!Number.isInteger(docs) || docs < 1000) throw new Error(`--docs must be an integer >= 1000, got ${argv[at + 1]}`);
  const log = (s: string) => process.stderr.write(`${s}\n`);
  const encode = await benchEncode({ docs: quick ? 2 : 4, log });
  const search = await benchSearch({ docs, queries: quick ? 200 : 1000, seed: 1, log });
  const result = { ...encode, ...search };
  if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else {
    console.log(`encode (SPLADE, ${encode.shape}, ${encode.tokens_per_doc}-token documents, one thread): ${encode.encode_docs_s.toFixed(2)} docs/s`);
    console.log(
      `search (${search.docs} documents, exact top-10, one thread): ${search.qps.toFixed(0)} QPS, p50 ${search.p50_ms.toFixed(2)} ms, p99 ${search.p99_ms.toFixed(2)} ms, ` +
        `${search.speedup_vs_bruteforce.toFixed(0)}x brute force (${search.bruteforce_ms.toFixed(1)} ms), ${search.bytes_per_doc.toFixed(0)} bytes/doc, built in ${search.build_s.toFixed(1)} s`,
    );
  }
  return 0;
}
