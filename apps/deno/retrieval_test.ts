// deno test: embed.ts and search.ts, run as scripts, give Node's answers (retrieval.mjs run by
// node): the same SPLADE ids and weights, the same DupMAE dense vectors, the same top-k ids and
// scores, from an index folder built by Node (`edgespec index build`'s layout) or from a JSONL
// collection encoded in Deno; and SPLADE's heaviest terms are the numpy reference's
// (tools/reference/retrieval_ref.py). The checkpoints are the retrieval tests' random-weight
// splade-tiny and dupmae-tiny, written to a temporary folder (fixtures.ts).
import { writeEncoderFixture } from "./fixtures.ts";

function assertEquals(actual: unknown, expected: unknown, what: string): void {
  if (JSON.stringify(actual) !== JSON.stringify(expected)) throw new Error(`${what}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`);
}

const here = (f: string) => new URL(f, import.meta.url).pathname;
const tmp = await Deno.makeTempDir({ prefix: "edgespec-deno-retrieval-" });
const splade = `${tmp}/splade-tiny`;
const dupmae = `${tmp}/dupmae-tiny`;
const docs = `${tmp}/docs.jsonl`;
let ready: Promise<void> | undefined;
function fixtures(): Promise<void> {
  ready ??= (async () => {
    await writeEncoderFixture("splade-tiny", splade);
    await writeEncoderFixture("dupmae-tiny", dupmae);
    const texts = [
      "The cat sat on the mat.",
      "A dog chased the cat around the garden.",
      "Stock markets fell sharply on Monday.",
      "The mat was red and the cat was black.",
      "Learned sparse retrieval bridges keyword and dense search.",
      "Tom and his sister went to the park.",
      "Cats and dogs are common pets.",
      "The weather was sunny and warm.",
    ];
    // ids as `edgespec index build` reads them: given, or the line after the previous id
    const lines = texts.map((text, i) => JSON.stringify(i === 4 ? { id: 12, text } : { text }));
    await Deno.writeTextFile(docs, `${lines.join("\n")}\n`);
  })();
  return ready;
}

async function output(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  return new TextDecoder().decode(out.stdout);
}

/** A Deno script of this folder, as a user runs it. */
async function deno(script: string, args: string[]) {
  return JSON.parse(
    await output(Deno.execPath(), ["run", "--no-check", "--allow-read", "--allow-write", "--allow-env", "--allow-sys", here(script), ...args, "--json"]),
  );
}

/** The same computation in Node. */
async function node(command: string, args: string[]) {
  return JSON.parse(await output("node", [here("retrieval.mjs"), command, ...args]));
}

/** search answers without the timing */
const hits = (r: { ms?: number }) => ({ ...r, ms: undefined });

Deno.test("embed.ts: SPLADE document and query vectors (ids, weights) equal Node's", async () => {
  await fixtures();
  const texts = ["--text", "the cat", "--text", "Learned sparse retrieval bridges keyword and dense search."];
  for (const args of [
    ["--model", splade, ...texts, "--top-k", "50", "--terms", "5"],
    ["--model", splade, ...texts, "--query", "--query-top-k", "16"],
    ["--model", splade, ...texts],
  ]) {
    const d = await deno("embed.ts", args);
    assertEquals(d, await node("embed", args), `embed ${args.slice(2).join(" ")}`);
    if (d.mode !== "splade" || d.vectors.length !== 2) throw new Error(`unexpected answer ${JSON.stringify(d).slice(0, 200)}`);
    for (const v of d.vectors) {
      const { ids, weights, nnz } = v.sparse;
      if (!(nnz > 0) || ids.length !== nnz || weights.length !== nnz) throw new Error(`bad vector for ${v.text}: nnz ${nnz}`);
      if (ids.some((id: number, i: number) => i > 0 && id <= ids[i - 1])) throw new Error("ids are not ascending");
      if (weights.some((w: number) => !(w > 0))) throw new Error("a weight is not positive");
    }
    const cap = args.includes("--top-k") ? 50 : args.includes("--query-top-k") ? 16 : 0;
    if (cap && d.vectors.some((v: { sparse: { nnz: number } }) => v.sparse.nnz > cap)) throw new Error(`pruning to ${cap} terms not applied`);
  }
});

Deno.test("embed.ts: SPLADE's heaviest terms are the numpy reference's (splade-tiny golden)", async () => {
  await fixtures();
  const golden = JSON.parse(await Deno.readTextFile(here("../../packages/retrieval/test/golden/encoders.json"))).splade["splade-tiny"];
  const args = ["--model", splade, "--terms", "50"];
  for (const g of golden) args.push("--text", g.text);
  const d = await deno("embed.ts", args);
  d.vectors.forEach((v: { sparse: { top_terms: { id: number; weight: number }[] } }, i: number) => {
    const ours = new Map(v.sparse.top_terms.map((t) => [t.id, t.weight]));
    const tol = 1e-4 + 2e-5 * golden[i].max.max; // our JSON rounds to 1e-4
    for (const [id, w] of golden[i].max.top50.slice(0, 40) as [number, number][]) {
      const o = ours.get(id);
      if (o === undefined || Math.abs(o - w) > tol) throw new Error(`"${golden[i].text}": id ${id} weighs ${o}, reference ${w}`);
    }
  });
});

Deno.test("embed.ts: DupMAE dense vectors and bags of words equal Node's", async () => {
  await fixtures();
  const args = ["--model", dupmae, "--mode", "dupmae", "--text", "the cat", "--text", "a dog in the garden", "--top-k", "32"];
  const d = await deno("embed.ts", args);
  assertEquals(d, await node("embed", args), "embed --mode dupmae");
  if (d.vectors[0].dense.length !== 64 || !(d.vectors[0].sparse.nnz > 0))
    throw new Error(`unexpected DupMAE vector ${JSON.stringify(d.vectors[0]).slice(0, 200)}`);
});

Deno.test("search.ts: top-k ids and scores equal Node's, from a Node-built index folder and from JSONL", async () => {
  await fixtures();
  for (const [mode, model] of [
    ["splade", splade],
    ["dupmae", dupmae],
  ]) {
    const prune = ["--mode", mode, "--top-k", "200", "--query-top-k", "32"];
    const folder = `${tmp}/index-${mode}`;
    const built = await node("index-build", ["--model", model, "--input", docs, "--out", folder, ...prune]);
    if (built.documents !== 8) throw new Error(`Node indexed ${built.documents} documents`);
    for (const query of ["a cat on a mat", "sparse retrieval"]) {
      const q = ["--query", query, "--k", "4"];
      const fromNode = await node("search", ["--index", folder, ...q]);
      const fromFolder = await deno("search.ts", ["--index", folder, ...q]);
      assertEquals(hits(fromFolder), hits(fromNode), `${mode} "${query}": Deno vs Node, index folder`);
      const saved = `${tmp}/deno-${mode}-${query.replaceAll(" ", "-")}`;
      const fromDocs = await deno("search.ts", ["--docs", docs, "--model", model, ...prune, ...q, "--save", saved]);
      assertEquals(hits(fromDocs), hits(fromNode), `${mode} "${query}": Deno from JSONL vs Node`);
      // the index Deno encoded is byte for byte the one Node encoded
      assertEquals(Array.from(await Deno.readFile(`${saved}/index.bin`)), Array.from(await Deno.readFile(`${folder}/index.bin`)), `${mode} index.bin`);
      const r = fromNode.results as { id: number; score: number; text: string }[];
      if (r.length !== 4 || r.some((h, i) => i > 0 && h.score > r[i - 1].score)) throw new Error(`not a top 4: ${JSON.stringify(r)}`);
      // ids as given (12) or following the previous line's (13, 14, 15)
      if (r.some((h) => ![0, 1, 2, 3, 12, 13, 14, 15].includes(h.id))) throw new Error(`unexpected ids in ${JSON.stringify(r)}`);
    }
  }
});

Deno.test("search.ts: a missing index folder is a clear error", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-check", "--allow-read", "--allow-env", "--allow-sys", here("search.ts"), "--index", `${tmp}/nowhere`, "--query", "cat"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (out.success || !new TextDecoder().decode(out.stderr).includes("not an index folder")) throw new Error("search.ts did not name the missing index folder");
});

globalThis.addEventListener("unload", () => {
  Deno.removeSync(tmp, { recursive: true });
});
