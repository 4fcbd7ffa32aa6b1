/**
 * `edgespec embed | index build | search`: learned sparse retrieval from the shell.
 *
 *   embed        one sparse vector per --text (SPLADE), or dense + bag of words (DupMAE)
 *   index build  encodes a JSONL collection ({"id"?, "text"} per line) into an index folder:
 *                index.bin (the versioned, checksummed index), docs.jsonl (id + text, to show
 *                results), meta.json (model, mode, count)
 *   search       encodes the query with the index's model (and its pruning) and prints the
 *                exact top k
 * --top-k / --query-top-k keep the largest terms of documents / queries (real SPLADE models
 * are sparse by training; random or unusual ones may need pruning).
 */
import { createReadStream, existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { resolveModelSource } from "@edgespec/models/node";
import {
  type DupMaeEncoder,
  HybridIndex,
  loadDupMaeEncoder,
  loadSpladeEncoder,
  MAX_QUERY_TERMS,
  type PackedSparseVector,
  SparseIndex,
  type SpladeEncoder,
} from "@edgespec/retrieval";
import { assertNewFolder, InputError, writeFolder } from "./files";
import { intOption, parseOptions, UsageError } from "./usage";

type Mode = "splade" | "dupmae";
const MODES: readonly Mode[] = ["splade", "dupmae"];

function modeOf(v: unknown): Mode {
  const mode = (v ?? "splade") as Mode;
  if (!MODES.includes(mode)) throw new UsageError(`--mode must be one of ${MODES.join(", ")}, got ${JSON.stringify(v)}`);
  return mode;
}

/** Terms kept per document and per query (undefined: all for SPLADE, 256 for DupMAE's bag of words). */
interface Pruning {
  topK?: number;
  queryTopK?: number;
}

function pruningOf(v: Record<string, unknown>): Pruning {
  return {
    topK: v["top-k"] === undefined ? undefined : intOption("top-k", v["top-k"] as string, 0, 1, 1 << 20),
    queryTopK: v["query-top-k"] === undefined ? undefined : intOption("query-top-k", v["query-top-k"] as string, 0, 1, 1 << 20),
  };
}

async function loadEncoderFor(model: string, mode: Mode, prune: Pruning): Promise<SpladeEncoder | DupMaeEncoder> {
  const source = await resolveModelSource(model);
  if (mode === "dupmae") return loadDupMaeEncoder(source, { topK: prune.topK });
  return loadSpladeEncoder(source, { topK: prune.topK, query: prune.queryTopK === undefined ? undefined : { topK: prune.queryTopK } });
}

const PRUNE_FLAGS = { "top-k": { type: "string" }, "query-top-k": { type: "string" } } as const;

const round = (x: number) => Math.round(x * 1e4) / 1e4;

function sparseJson(enc: SpladeEncoder | DupMaeEncoder, v: PackedSparseVector, top: number) {
  const terms = enc
    .terms(v)
    .sort((a, b) => b.weight - a.weight || a.id - b.id)
    .slice(0, top)
    .map((t) => ({ term: t.term, id: t.id, weight: round(t.weight) }));
  return { nnz: v.ids.length, ids: Array.from(v.ids), weights: Array.from(v.weights, round), top_terms: terms };
}

export async function embedCommand(argv: string[]): Promise<number> {
  const v = parseOptions(argv, {
    model: { type: "string" },
    mode: { type: "string" },
    text: { type: "string", multiple: true },
    query: { type: "boolean" },
    terms: { type: "string" },
    json: { type: "boolean" },
    ...PRUNE_FLAGS,
  });
  if (typeof v.model !== "string") throw new UsageError("embed needs --model");
  const texts = (v.text as string[] | undefined) ?? [];
  if (texts.length === 0) throw new UsageError("embed needs at least one --text");
  const mode = modeOf(v.mode);
  const top = intOption("terms", v.terms as string | undefined, 20, 1, 100000);
  const enc = await loadEncoderFor(v.model, mode, pruningOf(v));
  const out = texts.map((text) => {
    if (mode === "splade") {
      const s = enc as SpladeEncoder;
      return { text, sparse: sparseJson(s, v.query ? s.encodeQuery(text) : s.encodeDocument(text), top) };
    }
    const d = (enc as DupMaeEncoder).encode(text);
    return { text, dense: Array.from(d.dense, round), sparse: sparseJson(enc, d.sparse, top) };
  });
  if (v.json) process.stdout.write(`${JSON.stringify({ mode, model: v.model, vectors: out })}\n`);
  else {
    for (const o of out) {
      process.stdout.write(`${JSON.stringify(o.text)}: ${o.sparse.nnz} terms${"dense" in o ? `, dense ${o.dense?.length} dims` : ""}\n`);
      process.stdout.write(`  ${o.sparse.top_terms.map((t) => `${t.term} ${t.weight.toFixed(2)}`).join("  ")}\n`);
    }
  }
  return 0;
}

interface IndexMeta {
  format: "edgespec-index-folder/1";
  model: string;
  mode: Mode;
  /** the pruning the documents were encoded with; queries are encoded the same way */
  prune: Pruning;
  documents: number;
  created: string;
}

/** Documents of a JSONL file: {"text": ...} with an optional non-negative integer "id" (default: line order). */
async function* readCollection(file: string, field: string, idField: string): AsyncGenerator<{ id: number; text: string; line: number }> {
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  let next = 0;
  for await (const raw of lines) {
    n++;
    if (!raw.trim()) continue;
    let doc: Record<string, unknown>;
    try {
      doc = JSON.parse(raw);
    } catch (e) {
      throw new InputError(`${file}:${n}: not valid JSON (${(e as Error).message})`);
    }
    if (!doc || typeof doc !== "object" || typeof doc[field] !== "string") throw new InputError(`${file}:${n}: needs a string "${field}" field`);
    const id = doc[idField] ?? next;
    if (!Number.isInteger(id) || (id as number) < 0 || (id as number) > 0xffffffff)
      throw new InputError(`${file}:${n}: "${idField}" must be a non-negative 32-bit integer, got ${JSON.stringify(doc[idField])}`);
    next = (id as number) + 1;
    yield { id: id as number, text: doc[field] as string, line: n };
  }
}

export async function indexCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== "build") throw new UsageError(`unknown index command ${JSON.stringify(sub ?? "")}; available: build`);
  const v = parseOptions(rest, {
    model: { type: "string" },
    mode: { type: "string" },
    input: { type: "string" },
    out: { type: "string" },
    field: { type: "string" },
    "id-field": { type: "string" },
    json: { type: "boolean" },
    ...PRUNE_FLAGS,
  });
  for (const f of ["model", "input", "out"]) if (typeof v[f] !== "string") throw new UsageError(`index build needs --${f}`);
  const mode = modeOf(v.mode);
  const input = v.input as string;
  if (!existsSync(input)) throw new InputError(`--input ${input} does not exist`);
  const out = resolve(v.out as string);
  assertNewFolder(out);
  const prune = pruningOf(v);
  const enc = await loadEncoderFor(v.model as string, mode, prune);
  const index = mode === "splade" ? await SparseIndex.create({ vocab: enc.model.config.vocabSize }) : undefined;
  let hybrid: HybridIndex | undefined;
  const docs: string[] = [];
  const t0 = performance.now();
  let count = 0;
  const progress = (final = false) => {
    if (!process.stderr.isTTY && !final) return;
    const s = (performance.now() - t0) / 1000;
    process.stderr.write(
      `${process.stderr.isTTY ? "\r" : ""}indexed ${count} documents, ${(count / Math.max(s, 1e-9)).toFixed(1)} docs/s${process.stderr.isTTY ? "\x1b[K" : ""}${final ? "\n" : ""}`,
    );
  };
  for await (const doc of readCollection(input, (v.field as string) ?? "text", (v["id-field"] as string) ?? "id")) {
    try {
      if (mode === "splade") (index as SparseIndex).add(doc.id, (enc as SpladeEncoder).encodeDocument(doc.text));
      else {
        const d = (enc as DupMaeEncoder).encode(doc.text);
        hybrid ??= await HybridIndex.create({ vocab: enc.model.config.vocabSize, dim: d.dense.length });
        hybrid.add(doc.id, { dense: d.dense, sparse: d.sparse });
      }
    } catch (e) {
      throw new InputError(`${input}:${doc.line}: ${(e as Error).message}`);
    }
    docs.push(JSON.stringify({ id: doc.id, text: doc.text }));
    count++;
    if (count % 8 === 0) progress();
  }
  if (count === 0) throw new InputError(`${input} holds no documents`);
  progress(true);
  const bytes = mode === "splade" ? (index as SparseIndex).save() : (hybrid as HybridIndex).save();
  const meta: IndexMeta = {
    format: "edgespec-index-folder/1",
    model: resolveModelPath(v.model as string),
    mode,
    prune,
    documents: count,
    created: new Date().toISOString(),
  };
  writeFolder(out, [
    ["index.bin", bytes],
    ["docs.jsonl", `${docs.join("\n")}\n`],
    ["meta.json", `${JSON.stringify(meta, null, 2)}\n`],
  ]);
  const summary = {
    out,
    mode,
    documents: count,
    index_bytes: bytes.length,
    bytes_per_doc: Math.round(bytes.length / count),
    seconds: round((performance.now() - t0) / 1000),
  };
  if (v.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else process.stdout.write(`wrote ${out}: ${count} documents, ${bytes.length} bytes of index (${summary.bytes_per_doc} per document)\n`);
  return 0;
}

/** Local model paths are stored absolute, so the index folder can move; hub ids stay as given. */
function resolveModelPath(model: string): string {
  return existsSync(model) ? resolve(model) : model;
}

export async function searchCommand(argv: string[]): Promise<number> {
  const v = parseOptions(argv, {
    index: { type: "string" },
    query: { type: "string" },
    k: { type: "string" },
    model: { type: "string" },
    json: { type: "boolean" },
  });
  if (typeof v.index !== "string") throw new UsageError("search needs --index");
  if (typeof v.query !== "string") throw new UsageError("search needs --query");
  const k = intOption("k", v.k as string | undefined, 10, 1, 10000);
  const opened = openIndexFolder(v.index);
  const { meta } = opened;
  const { index: loadedIndex, texts } = await opened.load();
  const enc = await opened.encoder(v.model as string | undefined);
  const t0 = performance.now();
  let ids: Uint32Array;
  let scores: Float64Array;
  let queryTerms: ReturnType<typeof sparseJson>;
  if (meta.mode === "splade") {
    const index = loadedIndex as SparseIndex;
    const q = (enc as SpladeEncoder).encodeQuery(v.query);
    queryTerms = sparseJson(enc, q, 20);
    if (q.ids.length > MAX_QUERY_TERMS)
      throw new InputError(`the query has ${q.ids.length} terms, the index takes at most ${MAX_QUERY_TERMS}: build the index with --query-top-k`);
    ({ ids, scores } = index.search(q, k));
  } else {
    const index = loadedIndex as HybridIndex;
    const q = (enc as DupMaeEncoder).encode(v.query);
    queryTerms = sparseJson(enc, q.sparse, 20);
    ({ ids, scores } = index.search({ dense: q.dense, sparse: q.sparse }, k));
  }
  const ms = performance.now() - t0;
  const results = Array.from(ids, (id, i) => ({ id, score: scores[i], text: texts.get(id) ?? "" }));
  if (v.json) process.stdout.write(`${JSON.stringify({ query: v.query, mode: meta.mode, k, ms: round(ms), query_terms: queryTerms.top_terms, results })}\n`);
  else {
    process.stdout.write(`query terms: ${queryTerms.top_terms.map((t) => `${t.term} ${t.weight.toFixed(2)}`).join("  ")}\n`);
    results.forEach((r, i) => {
      const snippet = r.text.length > 100 ? `${r.text.slice(0, 97)}...` : r.text;
      process.stdout.write(`${String(i + 1).padStart(3)}. [${r.id}] ${r.score.toFixed(4)}  ${snippet}\n`);
    });
  }
  return 0;
}

/** An `index build` folder: its description now, its index, texts and encoder on demand. */
export function openIndexFolder(folder: string) {
  const dir = resolve(folder);
  const metaFile = join(dir, "meta.json");
  if (!existsSync(metaFile)) throw new InputError(`${dir} is not an index folder (no meta.json); build one with \`edgespec index build\``);
  let meta: IndexMeta;
  try {
    meta = JSON.parse(readFileSync(metaFile, "utf8"));
  } catch (e) {
    throw new InputError(`${metaFile} is not valid JSON (${(e as Error).message})`);
  }
  if (meta.format !== "edgespec-index-folder/1" || !MODES.includes(meta.mode)) throw new InputError(`${metaFile} is not an edgespec index folder description`);
  return {
    meta,
    load: async (): Promise<{ mode: Mode; index: SparseIndex | HybridIndex; texts: Map<number, string> }> => {
      const bytes = new Uint8Array(readFileSync(join(dir, "index.bin")));
      const index = meta.mode === "splade" ? await SparseIndex.load(bytes) : await HybridIndex.load(bytes);
      const texts = new Map<number, string>();
      for (const line of readFileSync(join(dir, "docs.jsonl"), "utf8").split("\n")) {
        if (!line) continue;
        const d = JSON.parse(line) as { id: number; text: string };
        texts.set(d.id, d.text);
      }
      return { mode: meta.mode, index, texts };
    },
    /** the index's encoder with its pruning (or another model with the same pruning) */
    encoder: (model?: string) => loadEncoderFor(model ?? meta.model, meta.mode, meta.prune ?? {}),
  };
}
