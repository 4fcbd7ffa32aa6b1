/**
 * The retrieval demo: a SPLADE encoder (any SPLADE folder URL; the default /splade/ is the
 * random-weight test checkpoint the dev server maps from $EDGESPEC_SPLADE_DIR) encodes the
 * documents and the query, the Rust wasm module's SparseIndex finds the top documents.
 */
import { resolveRemoteModelSource } from "@edgespec/models";
import { loadSpladeEncoder, type PackedSparseVector, SparseIndex, type SparseTerm, type SpladeEncoder } from "@edgespec/retrieval";

/** Pruning of the demo: documents keep their 64 heaviest terms, queries 16 (random weights stay sparse). */
export const DOC_TOP_K = 64;
export const QUERY_TOP_K = 16;
export const HITS = 5;

/** The documents of the textarea: one per non-blank line, trimmed. */
export function documentLines(text: string): string[] {
  return text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "");
}

/** The terms a document shares with the query, by contribution (query weight x document weight) descending. */
export function matchingTerms(query: SparseTerm[], doc: PackedSparseVector, limit = 4): { term: string; contribution: number }[] {
  const weightOf = new Map<number, number>();
  for (let i = 0; i < doc.ids.length; i++) weightOf.set(doc.ids[i], doc.weights[i]);
  const out: { term: string; contribution: number }[] = [];
  for (const t of query) {
    const w = weightOf.get(t.id);
    if (w !== undefined) out.push({ term: t.term, contribution: t.weight * w });
  }
  return out.sort((a, b) => b.contribution - a.contribution).slice(0, limit);
}

export interface RetrievalResult {
  queryTerms: SparseTerm[];
  hits: { id: number; score: number; text: string; matches: { term: string; contribution: number }[] }[];
}

/** Encode the documents and the query, index and search: what the page shows (and the e2e test recomputes in Node). */
export async function retrieve(encoder: SpladeEncoder, docs: string[], query: string, k = HITS): Promise<RetrievalResult> {
  const vectors = docs.map((d) => encoder.encodeDocument(d));
  const index = await SparseIndex.create();
  for (const [i, v] of vectors.entries()) index.add(i, v);
  const q = encoder.encodeQuery(query);
  const queryTerms = encoder.terms(q);
  const found = index.search(q, k);
  return {
    queryTerms,
    hits: [...found.ids].map((id, i) => ({ id, score: found.scores[i], text: docs[id], matches: matchingTerms(queryTerms, vectors[id]) })),
  };
}

const $ = <T extends HTMLElement>(id: string) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};

/** Wires the Retrieval section of index.html. */
export function setupRetrieval(): void {
  const ui = {
    url: $<HTMLInputElement>("splade-url"),
    docs: $<HTMLTextAreaElement>("docs"),
    query: $<HTMLInputElement>("query"),
    search: $<HTMLButtonElement>("search"),
    status: $<HTMLDivElement>("retrieval-status"),
    terms: $<HTMLTableElement>("query-terms"),
    hitsBox: $<HTMLDivElement>("hits-box"),
    hits: $<HTMLOListElement>("hits"),
  };
  let cached: { url: string; encoder: Promise<SpladeEncoder> } | undefined;

  const setStatus = (state: "idle" | "working" | "done" | "error", text: string) => {
    ui.status.dataset.state = state;
    ui.status.textContent = text;
    ui.search.disabled = state === "working";
  };

  ui.search.addEventListener("click", async () => {
    ui.terms.hidden = ui.hitsBox.hidden = true;
    try {
      const url = new URL(ui.url.value, location.href).href;
      if (cached?.url !== url) {
        setStatus("working", `loading SPLADE model ${url}…`);
        cached = { url, encoder: loadSpladeEncoder(resolveRemoteModelSource(url), { topK: DOC_TOP_K, query: { topK: QUERY_TOP_K } }) };
      }
      let encoder: SpladeEncoder;
      try {
        encoder = await cached.encoder;
      } catch (e) {
        cached = undefined;
        throw e;
      }
      const docs = documentLines(ui.docs.value);
      if (!docs.length) throw new Error("no documents: write one per line");
      setStatus("working", `encoding ${docs.length} documents…`);
      await new Promise((r) => setTimeout(r, 0));
      const t0 = performance.now();
      const r = await retrieve(encoder, docs, ui.query.value);
      const ms = performance.now() - t0;

      const body = ui.terms.tBodies[0];
      body.replaceChildren();
      const top = r.queryTerms[0]?.weight ?? 1;
      for (const t of r.queryTerms) {
        const row = body.insertRow();
        row.dataset.id = String(t.id);
        row.insertCell().textContent = t.term;
        row.insertCell().textContent = String(t.id);
        row.insertCell().textContent = t.weight.toFixed(3);
        const bar = document.createElement("span");
        bar.className = "bar";
        bar.style.width = `${Math.max(1, (100 * t.weight) / top).toFixed(0)}px`;
        row.insertCell().append(bar);
      }
      ui.hits.replaceChildren();
      for (const h of r.hits) {
        const li = document.createElement("li");
        li.dataset.id = String(h.id);
        li.dataset.score = String(h.score);
        const score = document.createElement("span");
        score.className = "score";
        score.textContent = h.score.toFixed(4);
        const match = document.createElement("div");
        match.className = "match";
        match.textContent = `matching terms: ${h.matches.map((m) => `${m.term} (${m.contribution.toFixed(3)})`).join(", ")}`;
        li.append(score, h.text, match);
        ui.hits.append(li);
      }
      ui.terms.hidden = ui.hitsBox.hidden = false;
      const c = encoder.model.config;
      setStatus(
        "done",
        `${docs.length} documents, ${r.queryTerms.length} query terms, ${r.hits.length} hits in ${ms.toFixed(0)} ms ` +
          `(model: ${c.numLayers} layers, hidden ${c.hiddenSize}, vocab ${c.vocabSize})`,
      );
    } catch (e) {
      console.error(e);
      setStatus("error", `error: ${(e as Error).message ?? String(e)}`);
    }
  });
}
