#!/usr/bin/env python3
"""Reference outputs for @edgespec/retrieval's encoders (SPLADE, DupMAE, decoder-only echo
sparse), computed with numpy only on random-weight checkpoints, independently of the TypeScript.

    python3 tools/reference/retrieval_ref.py            # writes packages/retrieval/test/golden/encoders.json
    python3 tools/reference/retrieval_ref.py --print    # the same, also prints a summary

The BERT-family forward, the weight rule and the WordPiece tokenizer are bert_ref.py's (read it);
the Llama forward is llama_ref.py's and the Llama fixture weights fixtures.py's. The BERT checkpoints
(shapes bert-tiny 2x128 and bert-base 12x768, vocab 30522) are listed in
packages/retrieval/test/fixtures/encoders.json ({name, seed, dtype, config[, projection]}), which
the tests hand to packages/models/test/fixtures/bert.ts's bertTensors / bertSafetensorsBytes (same
weight rule) to write the checkpoints. They are kept out of bert_fixtures.json on purpose: every
entry there needs a bert-*.json golden in packages/models (bert.check.ts fails without one).

Formulas (logits[i, j]: the masked-LM logit of vocabulary entry j at token position i, float64):
  SPLADE max (v2, SPLADE++, splade-v3):  w_j = max_i log(1 + relu(logits[i, j])), i over every
                                          token of [CLS] text [SEP] (attention mask all ones)
  SPLADE sum (v1):                       w_j = sum_i log(1 + relu(logits[i, j]))
  bag-of-words query (SpladeDoc):        w_j = 1 for every distinct id of the query's own tokens
                                          (no [CLS] / [SEP])
  DupMAE:  dense = last_hidden_state[0] (the [CLS] vector), then W dense + b when the checkpoint
           has a projection (sentence-transformers Dense module, identity activation);
           bow_j = max_i relu(logits[i, j]) over the ordinary positions i: "non_special" = every
           token that is not [CLS] / [SEP] / [PAD]; "after_cls" = positions 1..n-1 ([SEP]
           included, as DupMAE's pre-training code takes logits[:, 1:] under the attention mask);
           score(q, p) = dense_q . dense_p + bow_q . bow_p  (the inner product of the concatenated
           [dense; bow] vectors), with bow sparsified to its top k (ties: lower id first)
  echo (decoder-only, Mistral-SPLADE style): ids = bytes(prefix) + bytes(text) + bytes(middle)
           + bytes(text) + bytes(suffix) for the template "Passage: {text}\\nPassage again: {text}"
           (a byte-level tokenizer: id = UTF-8 byte, the fixture's vocabulary is 256); logits of
           every position from a causal forward; w_j = max over the positions of the SECOND copy of
           log(1 + relu(logits[i, j])). A text too long for the context is cut to
           floor((max_position_embeddings - template bytes) / 2) bytes before it is inserted.

Stored per vector: top50 = [[id, weight]] by weight descending (ties: lower id first), nnz (count of
weights > 0), sum, sumsq, max; DupMAE dense vectors in full (bert-tiny shape); echo vectors in full
(vocab 256). f32_numpy_max_abs_diff: the same pipeline in float32 numpy, a hint for tolerances.
"""
import argparse
import json
import os
import platform
import sys
from collections import OrderedDict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import bert_ref  # noqa: E402
import fixtures  # noqa: E402
import llama_ref  # noqa: E402

SPEC_JSON = os.path.join(REPO, "packages", "retrieval", "test", "fixtures", "encoders.json")
GOLDEN = os.path.join(REPO, "packages", "retrieval", "test", "golden", "encoders.json")
SCRIPT = "tools/reference/retrieval_ref.py"

CLS, SEP, PAD = 101, 102, 0
TOP = 50
DUPMAE_TOPK = 256

TINY_TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "what is learned sparse retrieval?",
    "Héllo, WORLD! Tokenizers split un-believable words like transformers' embeddings.",
]
BASE_TEXTS = ["what is learned sparse retrieval?"]
ECHO_FIXTURE = "llama-gqa3"
ECHO_TEMPLATE = "Passage: {text}\nPassage again: {text}"
ECHO_TEXTS = [
    "Sparse vectors live in the vocabulary.",
    "cats & dogs",
    # longer than the 128-position context allows twice: cut to the same length in both copies
    "A long passage that repeats itself: " + "the model must read every word of it twice. " * 4,
]


def load_specs():
    with open(SPEC_JSON, encoding="utf-8") as f:
        return {fx["name"]: fx for fx in json.load(f)}


# bert_ref.forward regenerates every weight on each call; the bert-base shape is 110M values, so
# build them once per fixture
_weights = {}
_orig_tensors = bert_ref.tensors


def _cached_tensors(fx):
    if fx["name"] not in _weights:
        _weights[fx["name"]] = _orig_tensors(fx)
    return _weights[fx["name"]]


bert_ref.tensors = _cached_tensors


def top_entries(w, k=TOP):
    order = np.lexsort((np.arange(w.size), -w))  # weight descending, then id ascending
    return [[int(j), float(np.float32(w[j]))] for j in order[:k] if w[j] > 0]


def summary(w):
    w = np.asarray(w, dtype=np.float64)
    return OrderedDict(
        top50=top_entries(w),
        nnz=int((w > 0).sum()),
        sum=float(w.sum()),
        sumsq=float((w * w).sum()),
        max=float(w.max()),
    )


def mlm_logits(fx, ids, dt=np.float64):
    return bert_ref.forward(fx, ids, list(range(len(ids))), dt=dt)


def splade_entry(fx, tok, text):
    ids, pieces = tok.encode(text)
    outs = mlm_logits(fx, ids)
    act = np.log1p(np.maximum(outs["mlm_logits"], 0.0))
    w_max, w_sum = act.max(0), act.sum(0)
    outs32 = mlm_logits(fx, ids, np.float32)
    act32 = np.log1p(np.maximum(outs32["mlm_logits"], 0)).astype(np.float64)
    return OrderedDict(
        text=text,
        tokens=pieces,
        ids=ids,
        bow_query_ids=sorted(set(tok.encode(text, add_special_tokens=False)[0])),
        max=summary(w_max),
        sum=summary(w_sum),
        logits_max_abs=float(np.abs(outs["mlm_logits"]).max()),
        f32_numpy_max_abs_diff=OrderedDict(
            max=float(np.abs(act32.max(0) - w_max).max()), sum=float(np.abs(act32.sum(0) - w_sum).max())
        ),
    )


def projection_weights(fx):
    p = fx["projection"]
    shape_w = [p["out_features"], p["in_features"]]
    # the Dense module's own names; the FIXTURES.md rule makes "linear.weight" a plain 2-D tensor
    # (r / sqrt(in)) and "linear.bias" a bias (0.1 r)
    return (fixtures.f32_values("linear.weight", shape_w, fx["seed"]).astype(np.float64),
            fixtures.f32_values("linear.bias", [p["out_features"]], fx["seed"]).astype(np.float64))


def topk_vector(w, k):
    out = np.zeros_like(w)
    order = np.lexsort((np.arange(w.size), -w))[:k]
    keep = order[w[order] > 0]
    out[keep] = w[keep]
    return out


def dupmae_entries(fx, tok, texts):
    W, b = projection_weights(fx)
    entries, reps = [], []
    for text in texts:
        ids, pieces = tok.encode(text)
        outs = mlm_logits(fx, ids)
        logits = outs["mlm_logits"]
        cls = outs["last_hidden_state"][0]
        proj = W @ cls + b
        ordinary = [i for i, t in enumerate(ids) if t not in (CLS, SEP, PAD)]
        bow = np.maximum(logits[ordinary], 0).max(0)
        bow_after_cls = np.maximum(logits[1:], 0).max(0)
        srt = np.sort(bow)[::-1]
        reps.append((cls, proj, bow))
        entries.append(OrderedDict(
            text=text,
            tokens=pieces,
            ids=ids,
            ordinary_positions=ordinary,
            cls=[float(np.float32(v)) for v in cls],
            dense=[float(np.float32(v)) for v in proj],
            bow_non_special=summary(bow),
            bow_after_cls=summary(bow_after_cls),
            # how far apart the k-th and (k+1)-th weights are: a top-k cut is only comparable
            # across float32 / float64 when this gap is wider than the tolerance
            topk_gap=float(srt[DUPMAE_TOPK - 1] - srt[DUPMAE_TOPK]),
        ))
    scores = []
    for a in range(len(texts)):
        for c in range(a + 1, len(texts)):
            qa, qc = reps[a], reps[c]
            scores.append(OrderedDict(
                pair=[a, c],
                dense=float(qa[1] @ qc[1]),
                bow_full=float(qa[2] @ qc[2]),
                bow_topk=float(topk_vector(qa[2], DUPMAE_TOPK) @ topk_vector(qc[2], DUPMAE_TOPK)),
                score_topk=float(qa[1] @ qc[1] + topk_vector(qa[2], DUPMAE_TOPK) @ topk_vector(qc[2], DUPMAE_TOPK)),
            ))
    return entries, scores


def echo_ids(text, template, context):
    head, middle, tail = (s.encode("utf-8") for s in template.split("{text}"))
    body = text.encode("utf-8")
    room = (context - len(head) - len(middle) - len(tail)) // 2
    body = body[:room]
    ids = list(head + body + middle + body + tail)
    start = len(head) + len(body) + len(middle)
    return ids, list(range(start, start + len(body))), len(body)


def echo_entries():
    fx = fixtures.spec(ECHO_FIXTURE)
    cfg = fx["config"]
    model = llama_ref.Llama(cfg, fixtures.tensors(fx))
    out = []
    for text in ECHO_TEXTS:
        ids, second, kept = echo_ids(text, ECHO_TEMPLATE, cfg["max_position_embeddings"])
        logits = model.forward(ids, model.new_cache())
        w = np.log1p(np.maximum(logits[second], 0)).max(0)
        out.append(OrderedDict(
            text=text,
            text_bytes_kept=kept,
            ids=ids,
            second_copy_positions=second,
            weights=[float(np.float32(v)) for v in w],
            **summary(w),
        ))
    return OrderedDict(fixture=ECHO_FIXTURE, fixtures_json="tools/reference/fixtures.json", template=ECHO_TEMPLATE,
                       tokenizer="bytes: id = UTF-8 byte value (vocab 256, no BOS)", texts=out)


def compact_json(v, depth=0):
    """Indented JSON with every list of numbers / strings / [id, weight] pairs on one line."""
    flat = lambda x: isinstance(x, (int, float, str)) or x is None  # noqa: E731
    if isinstance(v, list) and all(flat(x) or (isinstance(x, list) and all(map(flat, x))) for x in v):
        return json.dumps(v, ensure_ascii=False, separators=(",", ":"))
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(v, dict):
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {compact_json(x, depth + 1)}" for k, x in v.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}" if items else "{}"
    if isinstance(v, list):
        return "[\n" + ",\n".join(inner + compact_json(x, depth + 1) for x in v) + "\n" + pad + "]" if v else "[]"
    return json.dumps(v, ensure_ascii=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--print", action="store_true")
    args = ap.parse_args()
    specs = load_specs()
    tok = bert_ref.BertWordPiece()
    bert_ref.selfcheck(tok, verbose=False)
    g = OrderedDict()
    g["format"] = "edgespec-golden-retrieval-encoders/1"
    g["script"] = SCRIPT
    g["python"] = platform.python_version()
    g["numpy"] = np.__version__
    g["spec"] = "packages/retrieval/test/fixtures/encoders.json"
    g["tokenizer"] = "bert_ref.py BertWordPiece over $EDGESPEC_FIXTURES/tokenizers/bert-base-uncased/vocab.txt"
    g["compute"] = "float64 numpy on the float32 weights; weights stored as float32 values; see the script's docstring"
    g["splade"] = OrderedDict()
    for name, texts in (("splade-tiny", TINY_TEXTS), ("splade-distil-tiny", TINY_TEXTS[:1]), ("splade-base", BASE_TEXTS)):
        g["splade"][name] = [splade_entry(specs[name], tok, t) for t in texts]
    entries, scores = dupmae_entries(specs["dupmae-tiny"], tok, TINY_TEXTS)
    g["dupmae"] = OrderedDict([("dupmae-tiny", OrderedDict(topk=DUPMAE_TOPK, texts=entries, scores=scores))])
    g["echo"] = echo_entries()
    os.makedirs(os.path.dirname(GOLDEN), exist_ok=True)
    with open(GOLDEN, "w", encoding="utf-8") as f:
        f.write(compact_json(g) + "\n")
    print(f"wrote {os.path.relpath(GOLDEN, REPO)} ({os.path.getsize(GOLDEN)} bytes)")
    if args.print:
        for name, es in g["splade"].items():
            for e in es:
                print(f"  {name} n={len(e['ids'])} max: nnz {e['max']['nnz']} max {e['max']['max']:.4g} "
                      f"logits max|x| {e['logits_max_abs']:.3g} f32diff {e['f32_numpy_max_abs_diff']}")
        for e in entries:
            print(f"  dupmae n={len(e['ids'])} bow max {e['bow_non_special']['max']:.4g} topk gap {e['topk_gap']:.3g}")
        for e in g["echo"]["texts"]:
            print(f"  echo n={len(e['ids'])} kept {e['text_bytes_kept']} nnz {e['nnz']} max {e['max']:.4g}")


if __name__ == "__main__":
    main()
