// Sparse embeddings from Deno with the workspace packages (resolved through node_modules):
//   deno run --allow-read --allow-env --allow-sys embed.ts --model DIR --text TEXT [--text TEXT…]
//     [--mode splade|dupmae] [--query] [--terms N] [--top-k N] [--query-top-k N] [--json]
// SPLADE: one sparse vector per text (--query: encoded as a query); DupMAE: the dense vector and
// the bag of words. --json prints `edgespec embed --json`'s object; without it, a line of the
// heaviest terms per text, like `edgespec embed`.
import { embed } from "./retrieval.mjs";

interface Vector {
  text: string;
  dense?: number[];
  sparse: { nnz: number; top_terms: { term: string; weight: number }[] };
}

if (import.meta.main) {
  const out = await embed(Deno.args);
  if (Deno.args.includes("--json")) console.log(JSON.stringify(out));
  else
    for (const o of out.vectors as Vector[]) {
      console.log(`${JSON.stringify(o.text)}: ${o.sparse.nnz} terms${o.dense ? `, dense ${o.dense.length} dims` : ""}`);
      console.log(`  ${o.sparse.top_terms.map((t) => `${t.term} ${t.weight.toFixed(2)}`).join("  ")}`);
    }
}
