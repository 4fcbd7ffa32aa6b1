// SPLADE / DupMAE embeddings and exact top-k search with the workspace packages, written once
// for both hosts: Deno's embed.ts and search.ts import this module, and Node runs it
// (`node retrieval.mjs embed|index-build|search ARGS`) to print the same answers as JSON, so
// deno test can check that both hosts agree. The JSON is `edgespec embed --json` /
// `edgespec search --json`'s, and index folders are `edgespec index build`'s
// (index.bin, docs.jsonl, meta.json), so either side can read the other's.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { resolveModelSource } from "@edgespec/models/node";
import { HybridIndex, loadDupMaeEncoder, loadSpladeEncoder, MAX_QUERY_TERMS, SparseIndex } from "@edgespec/retrieval";

export const MODES = ["splade", "dupmae"];
const FOLDER_FORMAT = "edgespec-index-folder/1";

const round = (x) => Math.round(x * 1e4) / 1e4;

function modeOf(v) {
  const mode = v ?? "splade";
  if (!MODES.includes(mode)) throw new Error(`--mode must be one of ${MODES.join(", ")}, got ${JSON.stringify(v)}`);
  return mode;
}

function intOf(name, v, fallback, min, max) {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  return n;
}

/** --top-k / --query-top-k: terms kept per document and per query (undefined: the encoder's default). */
function pruningOf(v) {
  return { topK: intOf("top-k", v["top-k"], undefined, 1, 1 << 20), queryTopK: intOf("query-top-k", v["query-top-k"], undefined, 1, 1 << 20) };
}

/** The encoder of `edgespec embed / index build / search` for a model folder (or hub id), with its pruning. */
export async function loadEncoder(model, mode, prune = {}) {
  const source = await resolveModelSource(model);
  if (mode === "dupmae") return loadDupMaeEncoder(source, { topK: prune.topK });
  return loadSpladeEncoder(source, { topK: prune.topK, query: prune.queryTopK === undefined ? undefined : { topK: prune.queryTopK } });
}

function sparseJson(enc, v, top) {
  const terms = enc
    .terms(v)
    .sort((a, b) => b.weight - a.weight || a.id - b.id)
    .slice(0, top)
    .map((t) => ({ term: t.term, id: t.id, weight: round(t.weight) }));
  return { nnz: v.ids.length, ids: Array.from(v.ids), weights: Array.from(v.weights, round), top_terms: terms };
}

const PRUNE = { "top-k": { type: "string" }, "query-top-k": { type: "string" }, mode: { type: "string" } };

/** `embed --model DIR --text T [--text T…] [--mode splade|dupmae] [--query] [--terms N] [--top-k N] [--query-top-k N]`: `edgespec embed --json`'s object. */
export async function embed(argv) {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      model: { type: "string" },
      text: { type: "string", multiple: true },
      query: { type: "boolean" },
      terms: { type: "string" },
      json: { type: "boolean" },
      ...PRUNE,
    },
  });
  if (typeof v.model !== "string") throw new Error("embed needs --model");
  const texts = v.text ?? [];
  if (texts.length === 0) throw new Error("embed needs at least one --text");
  const mode = modeOf(v.mode);
  const top = intOf("terms", v.terms, 20, 1, 100000);
  const enc = await loadEncoder(v.model, mode, pruningOf(v));
  const vectors = texts.map((text) => {
    if (mode === "splade") return { text, sparse: sparseJson(enc, v.query ? enc.encodeQuery(text) : enc.encodeDocument(text), top) };
    const d = enc.encode(text);
    return { text, dense: Array.from(d.dense, round), sparse: sparseJson(enc, d.sparse, top) };
  });
  return { mode, model: v.model, vectors };
}

/** Documents of a JSONL file: {"text": ...} with an optional non-negative integer "id" (default: line order), as `edgespec index build` reads them. */
export function readDocs(file, field = "text", idField = "id") {
  const docs = [];
  let next = 0;
  readFileSync(file, "utf8")
    .split("\n")
    .forEach((raw, i) => {
      if (!raw.trim()) return;
      const doc = JSON.parse(raw);
      if (!doc || typeof doc[field] !== "string") throw new Error(`${file}:${i + 1}: needs a string "${field}" field`);
      const id = doc[idField] ?? next;
      if (!Number.isInteger(id) || id < 0 || id > 0xffffffff) throw new Error(`${file}:${i + 1}: "${idField}" must be a non-negative 32-bit integer`);
      next = id + 1;
      docs.push({ id, text: doc[field] });
    });
  if (docs.length === 0) throw new Error(`${file} holds no documents`);
  return docs;
}

/** Encodes `docs` into a SparseIndex (splade) or HybridIndex (dupmae). */
export async function buildIndex(model, docs, mode, prune = {}) {
  const enc = await loadEncoder(model, mode, prune);
  let index;
  if (mode === "splade") {
    index = await SparseIndex.create({ vocab: enc.model.config.vocabSize });
    for (const d of docs) index.add(d.id, enc.encodeDocument(d.text));
  } else {
    for (const d of docs) {
      const v = enc.encode(d.text);
      index ??= await HybridIndex.create({ vocab: enc.model.config.vocabSize, dim: v.dense.length });
      index.add(d.id, { dense: v.dense, sparse: v.sparse });
    }
  }
  const meta = {
    format: FOLDER_FORMAT,
    model: existsSync(model) ? resolve(model) : model,
    mode,
    prune,
    documents: docs.length,
    created: new Date().toISOString(),
  };
  return { meta, index, enc, texts: new Map(docs.map((d) => [d.id, d.text])) };
}

/** Writes an `edgespec index build` folder (a new or empty folder). */
export function saveIndexFolder(out, { meta, index, texts }) {
  if (existsSync(out) && readdirSync(out).length) throw new Error(`${out} exists and is not empty`);
  mkdirSync(out, { recursive: true });
  const bytes = index.save();
  writeFileSync(join(out, "index.bin"), bytes);
  writeFileSync(join(out, "docs.jsonl"), `${[...texts].map(([id, text]) => JSON.stringify({ id, text })).join("\n")}\n`);
  writeFileSync(join(out, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`);
  return { out: resolve(out), mode: meta.mode, documents: meta.documents, index_bytes: bytes.length };
}

/** Reads an `edgespec index build` folder; its encoder is the folder's model (or `model`) with the folder's pruning. */
export async function openIndexFolder(dir, model) {
  const metaFile = join(dir, "meta.json");
  if (!existsSync(metaFile)) throw new Error(`${resolve(dir)} is not an index folder (no meta.json); build one with \`edgespec index build\``);
  const meta = JSON.parse(readFileSync(metaFile, "utf8"));
  if (meta.format !== FOLDER_FORMAT || !MODES.includes(meta.mode)) throw new Error(`${metaFile} is not an edgespec index folder description`);
  const bytes = new Uint8Array(readFileSync(join(dir, "index.bin")));
  const index = meta.mode === "splade" ? await SparseIndex.load(bytes) : await HybridIndex.load(bytes);
  const texts = new Map();
  for (const line of readFileSync(join(dir, "docs.jsonl"), "utf8").split("\n")) {
    if (!line) continue;
    const d = JSON.parse(line);
    texts.set(d.id, d.text);
  }
  return { meta, index, texts, enc: await loadEncoder(model ?? meta.model, meta.mode, meta.prune ?? {}) };
}

/** The exact top k of an opened or built index for `query`: `edgespec search --json`'s object. */
export function searchIndex({ meta, index, texts, enc }, query, k) {
  const t0 = performance.now();
  let q;
  let hits;
  if (meta.mode === "splade") {
    q = enc.encodeQuery(query);
    if (q.ids.length > MAX_QUERY_TERMS) throw new Error(`the query has ${q.ids.length} terms, the index takes at most ${MAX_QUERY_TERMS}: use --query-top-k`);
    hits = index.search(q, k);
  } else {
    const d = enc.encode(query);
    q = d.sparse;
    hits = index.search({ dense: d.dense, sparse: d.sparse }, k);
  }
  const ms = performance.now() - t0;
  const results = Array.from(hits.ids, (id, i) => ({ id, score: hits.scores[i], text: texts.get(id) ?? "" }));
  return { query, mode: meta.mode, k, ms: round(ms), query_terms: sparseJson(enc, q, 20).top_terms, results };
}

/**
 * `search --query Q [--k N]` against `--index DIR` (an `edgespec index build` folder; --model
 * overrides its model) or `--docs FILE.jsonl --model DIR [--mode] [--top-k] [--query-top-k]`
 * (built in memory; `--save DIR` writes it as an index folder).
 */
export async function search(argv) {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      index: { type: "string" },
      docs: { type: "string" },
      model: { type: "string" },
      query: { type: "string" },
      k: { type: "string" },
      save: { type: "string" },
      json: { type: "boolean" },
      ...PRUNE,
    },
  });
  if (typeof v.query !== "string") throw new Error("search needs --query");
  const k = intOf("k", v.k, 10, 1, 10000);
  let opened;
  if (typeof v.index === "string") opened = await openIndexFolder(v.index, v.model);
  else if (typeof v.docs === "string" && typeof v.model === "string") {
    opened = await buildIndex(v.model, readDocs(v.docs), modeOf(v.mode), pruningOf(v));
    if (typeof v.save === "string") saveIndexFolder(v.save, opened);
  } else throw new Error("search needs --index DIR, or --docs FILE.jsonl with --model DIR");
  return searchIndex(opened, v.query, k);
}

/** `index-build --model DIR --input FILE.jsonl --out DIR [--mode] [--top-k] [--query-top-k]`, like `edgespec index build`. */
export async function indexBuild(argv) {
  const { values: v } = parseArgs({
    args: argv,
    options: { model: { type: "string" }, input: { type: "string" }, out: { type: "string" }, json: { type: "boolean" }, ...PRUNE },
  });
  for (const f of ["model", "input", "out"]) if (typeof v[f] !== "string") throw new Error(`index-build needs --${f}`);
  return saveIndexFolder(v.out, await buildIndex(v.model, readDocs(v.input), modeOf(v.mode), pruningOf(v)));
}

if (typeof Deno === "undefined" && process.argv[1]?.endsWith("retrieval.mjs")) {
  const [command, ...args] = process.argv.slice(2);
  const run = { embed, search, "index-build": indexBuild }[command];
  if (!run) {
    console.error("usage: node retrieval.mjs embed|index-build|search ARGS");
    process.exit(2);
  }
  console.log(JSON.stringify(await run(args)));
}
