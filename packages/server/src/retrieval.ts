/**
 * POST /v1/embeddings (OpenAI's shape, with `encoding: "splade" | "dupmae"`) and POST
 * /v1/search (exact top k of an index). Sparse vectors go out as {indices, values} (ids
 * ascending), the layout sparse vector stores take; DupMAE adds its dense part.
 * Encoders and the index load on first use, like the models.
 */
import { type DupMaeEncoder, type HybridIndex, MAX_QUERY_TERMS, type SparseIndex, type SparseVector, type SpladeEncoder } from "@edgespec/retrieval";
import { HttpError } from "./errors";
import { awaitShared } from "./limits";
import { type Schema, validate } from "./schema";

export interface SearchCorpus {
  /** "splade": a SparseIndex searched with SPLADE queries; "dupmae": a HybridIndex */
  mode: "splade" | "dupmae";
  index: SparseIndex | HybridIndex;
  /** document texts by id, returned with the hits when present */
  texts?: ReadonlyMap<number, string>;
}

export interface RetrievalOptions {
  splade?: () => Promise<SpladeEncoder>;
  dupmae?: () => Promise<DupMaeEncoder>;
  search?: () => Promise<SearchCorpus>;
  /** most texts per embeddings request (default 64) */
  maxInputs?: number;
}

const EMBED_SCHEMA: Schema = {
  model: { type: "string", maxItems: 256 },
  input: { type: "string|string[]", required: true, maxItems: 1024 },
  encoding: { type: "string", oneOf: ["splade", "dupmae"] },
  query: { type: "boolean" },
};
const SEARCH_SCHEMA: Schema = {
  query: { type: "string", required: true, maxItems: 4096 },
  k: { type: "integer", min: 1, max: 1000 },
};

/** One promise per loader: loaded once, retried after a failure. */
export function once<T>(load: () => Promise<T>, what: string): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => {
    p ??= load().catch((e: unknown) => {
      p = undefined;
      throw new HttpError(503, `${what} could not be loaded: ${(e as Error)?.message ?? String(e)}`, "server_error", null, "unavailable");
    });
    return awaitShared(p);
  };
}

const sparseOut = (v: SparseVector) => ({ indices: Array.from(v.ids), values: Array.from(v.weights) });

export async function embeddings(body: unknown, opts: RetrievalOptions, headers: Record<string, string>): Promise<Response> {
  const r = validate<{ model?: string; input: string | string[]; encoding?: "splade" | "dupmae"; query?: boolean }>(body, EMBED_SCHEMA, "/v1/embeddings");
  const inputs = typeof r.input === "string" ? [r.input] : r.input;
  const max = opts.maxInputs ?? 64;
  if (inputs.length === 0) throw new HttpError(400, `/v1/embeddings: "input" is empty`, undefined, "input");
  if (inputs.length > max) throw new HttpError(400, `/v1/embeddings: ${inputs.length} inputs; the limit is ${max} per request`, undefined, "input");
  const encoding = r.encoding ?? "splade";
  const load = encoding === "splade" ? opts.splade : opts.dupmae;
  if (!load) throw new HttpError(400, `/v1/embeddings: this server has no ${encoding} encoder`, undefined, "encoding", "unsupported_encoding");
  const data: unknown[] = [];
  let tokens = 0;
  if (encoding === "splade") {
    const enc = (await load()) as SpladeEncoder;
    inputs.forEach((text, index) => {
      tokens += enc.inputIds(text).length;
      data.push({ object: "embedding", index, embedding: sparseOut(r.query ? enc.encodeQuery(text) : enc.encodeDocument(text)) });
    });
  } else {
    const enc = (await load()) as DupMaeEncoder;
    inputs.forEach((text, index) => {
      const v = enc.encode(text);
      tokens += enc.inputIds(text).length;
      data.push({ object: "embedding", index, embedding: { dense: Array.from(v.dense), sparse: sparseOut(v.sparse) } });
    });
  }
  return Response.json({ object: "list", data, model: r.model ?? encoding, usage: { prompt_tokens: tokens, total_tokens: tokens } }, { headers });
}

export async function search(body: unknown, opts: RetrievalOptions, headers: Record<string, string>): Promise<Response> {
  const r = validate<{ query: string; k?: number }>(body, SEARCH_SCHEMA, "/v1/search");
  if (!opts.search) throw new HttpError(404, "/v1/search: this server has no index", "invalid_request_error", null, "no_index");
  const corpus = await opts.search();
  const k = r.k ?? 10;
  let hits: { ids: Uint32Array; scores: Float64Array };
  if (corpus.mode === "splade") {
    if (!opts.splade) throw new HttpError(500, "/v1/search: the index needs the splade encoder, which this server lacks");
    const q = (await opts.splade()).encodeQuery(r.query);
    if (q.ids.length > MAX_QUERY_TERMS)
      throw new HttpError(
        400,
        `/v1/search: the query has ${q.ids.length} terms; the index takes at most ${MAX_QUERY_TERMS} (prune queries)`,
        undefined,
        "query",
      );
    hits = (corpus.index as SparseIndex).search(q, k);
  } else {
    if (!opts.dupmae) throw new HttpError(500, "/v1/search: the index needs the dupmae encoder, which this server lacks");
    const q = (await opts.dupmae()).encode(r.query);
    hits = (corpus.index as HybridIndex).search({ dense: q.dense, sparse: q.sparse }, k);
  }
  const data = Array.from(hits.ids, (id, i) => ({ id, score: hits.scores[i], ...(corpus.texts?.has(id) ? { text: corpus.texts.get(id) } : {}) }));
  return Response.json({ object: "list", query: r.query, k, data }, { headers });
}
