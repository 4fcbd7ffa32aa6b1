// Exact top-k search from Deno with the workspace packages (resolved through node_modules):
//   deno run --allow-read --allow-env --allow-sys search.ts --index DIR --query TEXT [--k N] [--model DIR] [--json]
//   deno run --allow-read --allow-write --allow-env --allow-sys search.ts --docs FILE.jsonl --model DIR --query TEXT
//     [--mode splade|dupmae] [--top-k N] [--query-top-k N] [--k N] [--save DIR] [--json]
// --index reads a folder written by `edgespec index build` (or --save); --docs encodes a JSONL
// collection ({"id"?, "text"} per line) in memory first. --json prints `edgespec search --json`'s
// object; without it, the query's terms and a ranked list, like `edgespec search`.
import { search } from "./retrieval.mjs";

interface Hit {
  id: number;
  score: number;
  text: string;
}

if (import.meta.main) {
  const out = await search(Deno.args);
  if (Deno.args.includes("--json")) console.log(JSON.stringify(out));
  else {
    console.log(`query terms: ${out.query_terms.map((t: { term: string; weight: number }) => `${t.term} ${t.weight.toFixed(2)}`).join("  ")}`);
    (out.results as Hit[]).forEach((r, i) => {
      const snippet = r.text.length > 100 ? `${r.text.slice(0, 97)}...` : r.text;
      console.log(`${String(i + 1).padStart(3)}. [${r.id}] ${r.score.toFixed(4)}  ${snippet}`);
    });
  }
}
