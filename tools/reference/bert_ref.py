#!/usr/bin/env python3
"""Reference outputs for edgespec's BERT-family encoders: random weights (the rule of FIXTURES.md),
small sizes, the real bert-base-uncased vocabulary and tokenizer. numpy only (no torch, no
transformers); the tokenizer and the forward passes are written out here, following Hugging Face
transformers' BertTokenizer / BertModel / BertForMaskedLM / DistilBertForMaskedLM.

    python3 tools/reference/bert_ref.py                     # = golden: self-checks, then writes
                                                            #   packages/models/test/golden/bert-*.{json,f32}
                                                            #   (bert-mlm, bert-base, bert-distilbert-mlm)
    python3 tools/reference/bert_ref.py check               # self-checks only (tokenizer, weight rule)
    python3 tools/reference/bert_ref.py tokenize "TEXT"     # ids and pieces of one text
    python3 tools/reference/bert_ref.py checksums NAME      # per-tensor {dtype, shape, sum, first4}
    python3 tools/reference/bert_ref.py write NAME DIR      # config.json + model.safetensors

The models are listed in tools/reference/bert_fixtures.json ({name, seed, dtype, config}); the
TypeScript twin that writes the same checkpoints at test time is
packages/models/test/fixtures/bert.ts (checked by test/fixtures/bert.check.ts against the
per-tensor checksums and the safetensors sha256 recorded in the goldens).

The tokenizer files are read in place from $EDGESPEC_FIXTURES/tokenizers/bert-base-uncased
(default: ../shared beside the repository root, i.e. /work/shared).

Weight rule (FIXTURES.md): h = fnv1a32(utf8(name)); stream = splitmix32((seed ^ h) >>> 0);
u = next() in [0, 1), r = 2u - 1 in double; norm weights (names with "norm"/"LayerNorm" ending in
".weight") 1 + 0.25 r; biases 0.1 r; embeddings (names with "embeddings") r; other 2-D tensors
r / sqrt(shape[1]); rounded to float32 (nearest even).

Forward passes are float64 (weights are the float32 values, widened); the goldens store float32.
"""
import hashlib
import json
import math
import os
import platform
import sys
import unicodedata
from collections import OrderedDict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SPEC_JSON = os.path.join(HERE, "bert_fixtures.json")
GOLDEN_DIR = os.path.join(REPO, "packages", "models", "test", "golden")
FIXTURES_DIR = os.environ.get("EDGESPEC_FIXTURES") or os.path.join(os.path.dirname(REPO), "shared")
TOKENIZER_DIR = os.path.join(FIXTURES_DIR, "tokenizers", "bert-base-uncased")

TEXTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Héllo, WORLD! Tokenizers split un-believable words like transformers' embeddings.",
    "a [MASK] sentence with 12,345 numbers and émojis 🙂 too",
]
# HF BertTokenizer / tokenizer.json ids of TEXTS[0] (given in the task, from HF).
EXPECTED_IDS_0 = [101, 1996, 4248, 2829, 4419, 14523, 2058, 1996, 13971, 3899, 1012, 102]


# --------------------------------------------------------------------------------------------
# Weight rule
# --------------------------------------------------------------------------------------------

# The weight rule of FIXTURES.md has one Python implementation, fixtures.py (shared with
# llama_ref.py); its self-check covers splitmix32 and fnv1a32.
sys.path.insert(0, HERE)
from fixtures import f32_values as weight_values  # noqa: E402


def golden_stem(name):
    """Golden file stem: every BERT-family golden is packages/models/test/golden/bert-*.{json,f32}
    (bert-mlm, bert-base, bert-distilbert-mlm)."""
    return name if name.startswith("bert-") else "bert-" + name


def load_specs():
    with open(SPEC_JSON, encoding="utf-8") as f:
        return json.load(f)


def spec(name):
    for fx in load_specs():
        if fx["name"] == name:
            return fx
    raise KeyError(f"no model named {name!r} in {SPEC_JSON}")


def arch(config):
    a = config["architectures"][0]
    if a not in ("BertForMaskedLM", "BertModel", "DistilBertForMaskedLM"):
        raise ValueError(f"unsupported architecture {a}")
    return a


def tensor_specs(config):
    """(HF name, shape) in Hugging Face module (state_dict) order."""
    a = arch(config)
    out = []
    if a == "DistilBertForMaskedLM":
        d, f, v = config["dim"], config["hidden_dim"], config["vocab_size"]
        p = "distilbert."
        out += [(p + "embeddings.word_embeddings.weight", [v, d]),
                (p + "embeddings.position_embeddings.weight", [config["max_position_embeddings"], d]),
                (p + "embeddings.LayerNorm.weight", [d]),
                (p + "embeddings.LayerNorm.bias", [d])]
        for i in range(config["n_layers"]):
            q = f"{p}transformer.layer.{i}."
            for lin in ("q_lin", "k_lin", "v_lin", "out_lin"):
                out += [(q + f"attention.{lin}.weight", [d, d]), (q + f"attention.{lin}.bias", [d])]
            out += [(q + "sa_layer_norm.weight", [d]), (q + "sa_layer_norm.bias", [d]),
                    (q + "ffn.lin1.weight", [f, d]), (q + "ffn.lin1.bias", [f]),
                    (q + "ffn.lin2.weight", [d, f]), (q + "ffn.lin2.bias", [d]),
                    (q + "output_layer_norm.weight", [d]), (q + "output_layer_norm.bias", [d])]
        out += [("vocab_transform.weight", [d, d]), ("vocab_transform.bias", [d]),
                ("vocab_layer_norm.weight", [d]), ("vocab_layer_norm.bias", [d]),
                ("vocab_projector.bias", [v])]
        return out
    h, f, v = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    p = "bert." if a == "BertForMaskedLM" else ""
    out += [(p + "embeddings.word_embeddings.weight", [v, h]),
            (p + "embeddings.position_embeddings.weight", [config["max_position_embeddings"], h]),
            (p + "embeddings.token_type_embeddings.weight", [config["type_vocab_size"], h]),
            (p + "embeddings.LayerNorm.weight", [h]),
            (p + "embeddings.LayerNorm.bias", [h])]
    for i in range(config["num_hidden_layers"]):
        q = f"{p}encoder.layer.{i}."
        for lin in ("query", "key", "value"):
            out += [(q + f"attention.self.{lin}.weight", [h, h]), (q + f"attention.self.{lin}.bias", [h])]
        out += [(q + "attention.output.dense.weight", [h, h]), (q + "attention.output.dense.bias", [h]),
                (q + "attention.output.LayerNorm.weight", [h]), (q + "attention.output.LayerNorm.bias", [h]),
                (q + "intermediate.dense.weight", [f, h]), (q + "intermediate.dense.bias", [f]),
                (q + "output.dense.weight", [h, f]), (q + "output.dense.bias", [h]),
                (q + "output.LayerNorm.weight", [h]), (q + "output.LayerNorm.bias", [h])]
    if a == "BertModel":
        out += [("pooler.dense.weight", [h, h]), ("pooler.dense.bias", [h])]
    else:
        out += [("cls.predictions.transform.dense.weight", [h, h]), ("cls.predictions.transform.dense.bias", [h]),
                ("cls.predictions.transform.LayerNorm.weight", [h]), ("cls.predictions.transform.LayerNorm.bias", [h]),
                ("cls.predictions.bias", [v])]
    return out


def tensors(fx):
    if fx["dtype"] != "F32":
        raise ValueError("BERT fixtures are F32 only")
    return OrderedDict((n, weight_values(n, s, fx["seed"])) for n, s in tensor_specs(fx["config"]))


def checksum(x):
    """{sum, first4}: float64 accumulation one value after the other in row-major order
    (np.cumsum is sequential, so a plain JS `for` loop gives the same double)."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    return {"sum": float(np.cumsum(flat)[-1]) if flat.size else 0.0, "first4": [float(v) for v in flat[:4]]}


def safetensors_bytes(items):
    """[(name, float32 array)] -> one .safetensors file: 8-byte LE header length, compact JSON
    header ({"__metadata__":{"format":"pt"}, then tensors in order}) padded with spaces to a
    multiple of 8, then the F32 data in order. JSON.stringify gives the same header bytes."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for n, a in items:
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[n] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    return len(hj).to_bytes(8, "little") + hj + b"".join(blobs)


def write_checkpoint(name, out_dir):
    fx = spec(name)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(fx["config"], f, indent=2)
    with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
        f.write(safetensors_bytes(list(tensors(fx).items())))


# --------------------------------------------------------------------------------------------
# Tokenizer (BertTokenizer: BasicTokenizer + WordPiece, special tokens never split)
# --------------------------------------------------------------------------------------------

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _is_whitespace(c):
    if c in (" ", "\t", "\n", "\r"):
        return True
    return unicodedata.category(c) == "Zs"


def _is_control(c):
    if c in ("\t", "\n", "\r"):
        return False
    return unicodedata.category(c) in ("Cc", "Cf")


def _is_punctuation(c):
    cp = ord(c)
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(c).startswith("P")


def _is_chinese_char(cp):
    return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
            or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
            or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


class BertWordPiece:
    def __init__(self, tokenizer_dir=TOKENIZER_DIR, lowercase=True, max_chars=100):
        self.vocab = {}
        with open(os.path.join(tokenizer_dir, "vocab.txt"), encoding="utf-8") as f:
            for i, line in enumerate(f):
                self.vocab[line.rstrip("\n")] = i  # as HF load_vocab: later duplicates win
        self.lowercase = lowercase
        self.max_chars = max_chars
        for t in SPECIAL_TOKENS:
            assert t in self.vocab, t

    # BasicTokenizer
    def basic(self, text):
        out = []
        for c in text:
            cp = ord(c)
            if cp == 0 or cp == 0xFFFD or _is_control(c):
                continue
            if _is_whitespace(c):
                out.append(" ")
            elif _is_chinese_char(cp):
                out.append(" " + c + " ")
            else:
                out.append(c)
        text = unicodedata.normalize("NFC", "".join(out))
        words = []
        for tok in text.split():
            if self.lowercase:
                tok = tok.lower()
                tok = "".join(c for c in unicodedata.normalize("NFD", tok) if unicodedata.category(c) != "Mn")
            cur = ""
            for c in tok:
                if _is_punctuation(c):
                    if cur:
                        words.append(cur)
                    words.append(c)
                    cur = ""
                else:
                    cur += c
            if cur:
                words.append(cur)
        return [w for w in " ".join(words).split()]

    def wordpiece(self, word):
        chars = list(word)
        if len(chars) > self.max_chars:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(chars):
            end, cur = len(chars), None
            while start < end:
                sub = "".join(chars[start:end])
                if start > 0:
                    sub = "##" + sub
                if sub in self.vocab:
                    cur = sub
                    break
                end -= 1
            if cur is None:
                return ["[UNK]"]
            pieces.append(cur)
            start = end
        return pieces

    def split_special(self, text):
        """Chunks of raw text and special tokens, matched exactly (case-sensitive, before any
        normalization, longest first), as HF's added-token handling does."""
        chunks, i, last = [], 0, 0
        specials = sorted(SPECIAL_TOKENS, key=len, reverse=True)
        while i < len(text):
            hit = next((s for s in specials if text.startswith(s, i)), None)
            if hit is None:
                i += 1
                continue
            if i > last:
                chunks.append((False, text[last:i]))
            chunks.append((True, hit))
            i += len(hit)
            last = i
        if last < len(text):
            chunks.append((False, text[last:]))
        return chunks

    def tokenize(self, text):
        pieces = []
        for special, chunk in self.split_special(text):
            if special:
                pieces.append(chunk)
            else:
                for w in self.basic(chunk):
                    pieces.extend(self.wordpiece(w))
        return pieces

    def encode(self, text, add_special_tokens=True):
        pieces = self.tokenize(text)
        if add_special_tokens:
            pieces = ["[CLS]"] + pieces + ["[SEP]"]
        return [self.vocab[p] for p in pieces], pieces


# --------------------------------------------------------------------------------------------
# Forward passes (float64 unless dt says otherwise)
# --------------------------------------------------------------------------------------------

_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x):
    """Exact (erf) GELU, transformers' "gelu"."""
    return (0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(np.float64))).astype(x.dtype)


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def linear(x, w, b):
    return x @ w.T + b


def softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def self_attention(x, wq, bq, wk, bk, wv, bv, heads):
    n, h = x.shape
    hd = h // heads

    def split(t):
        return t.reshape(n, heads, hd).transpose(1, 0, 2)

    q, k, v = split(linear(x, wq, bq)), split(linear(x, wk, bk)), split(linear(x, wv, bv))
    # all-ones attention mask (one unpadded sequence): the additive mask is 0 everywhere
    p = softmax(q @ k.transpose(0, 2, 1) / math.sqrt(hd))
    return (p @ v).transpose(1, 0, 2).reshape(n, h)


def forward(fx, ids, positions, dt=np.float64):
    """Returns OrderedDict of outputs for one sequence: last_hidden_state [n, H], then
    pooler_output [H] (BertModel) or mlm_logits [len(positions), vocab] (the *ForMaskedLM)."""
    cfg = fx["config"]
    a = arch(cfg)
    W = {k: v.astype(dt) for k, v in tensors(fx).items()}
    ids = np.asarray(ids)
    n = len(ids)
    out = OrderedDict()
    if a == "DistilBertForMaskedLM":
        P, eps, heads = "distilbert.", 1e-12, cfg["n_heads"]
        assert cfg["activation"] == "gelu" and not cfg["sinusoidal_pos_embds"]
        x = W[P + "embeddings.word_embeddings.weight"][ids] + W[P + "embeddings.position_embeddings.weight"][:n]
        x = layer_norm(x, W[P + "embeddings.LayerNorm.weight"], W[P + "embeddings.LayerNorm.bias"], eps)
        for i in range(cfg["n_layers"]):
            q = f"{P}transformer.layer.{i}."
            g = lambda s: W[q + s]  # noqa: E731
            sa = self_attention(x, g("attention.q_lin.weight"), g("attention.q_lin.bias"),
                                g("attention.k_lin.weight"), g("attention.k_lin.bias"),
                                g("attention.v_lin.weight"), g("attention.v_lin.bias"), heads)
            sa = linear(sa, g("attention.out_lin.weight"), g("attention.out_lin.bias"))
            x = layer_norm(sa + x, g("sa_layer_norm.weight"), g("sa_layer_norm.bias"), eps)
            ff = linear(gelu(linear(x, g("ffn.lin1.weight"), g("ffn.lin1.bias"))), g("ffn.lin2.weight"), g("ffn.lin2.bias"))
            x = layer_norm(ff + x, g("output_layer_norm.weight"), g("output_layer_norm.bias"), eps)
        out["last_hidden_state"] = x
        t = gelu(linear(x[positions], W["vocab_transform.weight"], W["vocab_transform.bias"]))
        t = layer_norm(t, W["vocab_layer_norm.weight"], W["vocab_layer_norm.bias"], eps)
        out["mlm_logits"] = t @ W[P + "embeddings.word_embeddings.weight"].T + W["vocab_projector.bias"]
        return out

    P = "bert." if a == "BertForMaskedLM" else ""
    eps, heads = cfg["layer_norm_eps"], cfg["num_attention_heads"]
    assert cfg["hidden_act"] == "gelu" and cfg.get("position_embedding_type", "absolute") == "absolute"
    x = (W[P + "embeddings.word_embeddings.weight"][ids]
         + W[P + "embeddings.token_type_embeddings.weight"][np.zeros(n, dtype=np.int64)]
         + W[P + "embeddings.position_embeddings.weight"][:n])
    x = layer_norm(x, W[P + "embeddings.LayerNorm.weight"], W[P + "embeddings.LayerNorm.bias"], eps)
    for i in range(cfg["num_hidden_layers"]):
        q = f"{P}encoder.layer.{i}."
        g = lambda s: W[q + s]  # noqa: E731
        sa = self_attention(x, g("attention.self.query.weight"), g("attention.self.query.bias"),
                            g("attention.self.key.weight"), g("attention.self.key.bias"),
                            g("attention.self.value.weight"), g("attention.self.value.bias"), heads)
        sa = linear(sa, g("attention.output.dense.weight"), g("attention.output.dense.bias"))
        x = layer_norm(sa + x, g("attention.output.LayerNorm.weight"), g("attention.output.LayerNorm.bias"), eps)
        ff = linear(gelu(linear(x, g("intermediate.dense.weight"), g("intermediate.dense.bias"))),
                    g("output.dense.weight"), g("output.dense.bias"))
        x = layer_norm(ff + x, g("output.LayerNorm.weight"), g("output.LayerNorm.bias"), eps)
    out["last_hidden_state"] = x
    if a == "BertModel":
        out["pooler_output"] = np.tanh(linear(x[0], W["pooler.dense.weight"], W["pooler.dense.bias"]))
    else:
        t = gelu(linear(x[positions], W["cls.predictions.transform.dense.weight"], W["cls.predictions.transform.dense.bias"]))
        t = layer_norm(t, W["cls.predictions.transform.LayerNorm.weight"], W["cls.predictions.transform.LayerNorm.bias"], eps)
        out["mlm_logits"] = t @ W[P + "embeddings.word_embeddings.weight"].T + W["cls.predictions.bias"]
    return out


def mlm_positions(ids, mask_id=103, sep_id=102):
    """Position 1, and the first [MASK] position (else the last token before the final [SEP])."""
    second = ids.index(mask_id) if mask_id in ids else len(ids) - 2
    if ids[second] == sep_id or second == 1:
        raise ValueError(f"bad second position {second} for {ids}")
    return [1, second]


# --------------------------------------------------------------------------------------------
# Self-checks
# --------------------------------------------------------------------------------------------

def selfcheck(tok, verbose=True):
    # vocab.txt against tokenizer.json's WordPiece vocabulary
    with open(os.path.join(TOKENIZER_DIR, "tokenizer.json"), encoding="utf-8") as f:
        tj = json.load(f)
    assert tj["model"]["type"] == "WordPiece" and tj["model"]["max_input_chars_per_word"] == 100
    assert tj["model"]["vocab"] == tok.vocab, "vocab.txt and tokenizer.json disagree"
    assert tj["normalizer"]["lowercase"] is True and tj["normalizer"]["strip_accents"] is None
    assert sorted(t["content"] for t in tj["added_tokens"]) == sorted(SPECIAL_TOKENS)

    ids0, _ = tok.encode(TEXTS[0])
    assert ids0 == EXPECTED_IDS_0, ids0
    ids2, pieces2 = tok.encode(TEXTS[2])
    assert ids2.count(103) == 1 and pieces2[2] == "[MASK]", pieces2
    # special tokens are matched on the raw text only: lower-case or glued text behaves like HF
    assert tok.encode("[mask]", False)[1] == ["[", "mask", "]"]
    assert tok.encode("x[MASK]y", False)[1] == ["x", "[MASK]", "y"]
    if verbose:
        print("selfcheck: vocab.txt == tokenizer.json vocab; text 0 ids match HF")

    # llama.cpp's HF-generated test vectors for the BGE vocabulary (= bert-base-uncased's), if present
    inp = os.path.join(FIXTURES_DIR, "tokenizers", "llama.cpp-vocab", "ggml-vocab-bert-bge.gguf.inp")
    if os.path.exists(inp):
        with open(inp, encoding="utf-8") as f:
            cases = f.read().split("\n__ggml_vocab_test__\n")
        if cases and cases[-1] == "":
            cases.pop()  # the file ends with a separator
        with open(inp[:-4] + ".out", encoding="utf-8") as f:
            outs = f.read().split("\n")
        assert len(outs) >= len(cases), (len(outs), len(cases))
        bad = []
        for i, text in enumerate(cases):
            want = [int(t) for t in outs[i].split()]
            got = tok.encode(text, add_special_tokens=False)[0]
            if got != want:
                bad.append((text, want, got))
        for text, want, got in bad:
            print(f"  llama.cpp bert-bge vector differs: {text!r}\n    want {want}\n    got  {got}")
        assert not bad, f"{len(bad)} of {len(cases)} llama.cpp bert-bge tokenizer vectors differ"
        if verbose:
            print(f"selfcheck: {len(cases)} llama.cpp bert-bge tokenizer vectors match")


# --------------------------------------------------------------------------------------------
# Goldens
# --------------------------------------------------------------------------------------------

ORDER_DOC = (
    "the .f32 file (`data`) is little-endian float32, text after text in the order of `texts`; for each "
    "text its outputs in the order of texts[i].outputs (last_hidden_state [n, hidden] row-major, "
    "then pooler_output [hidden] for BertModel, or mlm_logits [len(positions), vocab_size] "
    "row-major for the *ForMaskedLM models: row j holds the logits at token position positions[j]). "
    "outputs.<name>.offset counts floats (not bytes) from the start of the file."
)


def golden(fx, tok):
    cfg = fx["config"]
    a = arch(cfg)
    ws = tensors(fx)
    st = safetensors_bytes(list(ws.items()))
    floats, texts, off = [], [], 0
    for text in TEXTS:
        ids, pieces = tok.encode(text)
        assert len(ids) <= cfg["max_position_embeddings"]
        positions = mlm_positions(ids)
        outs64 = forward(fx, ids, positions)
        outs32 = forward(fx, ids, positions, dt=np.float32)
        entry = OrderedDict(text=text, tokens=pieces, ids=ids, token_type_ids=[0] * len(ids))
        if a != "BertModel":
            entry["positions"] = positions
        entry["outputs"] = OrderedDict()
        for k, v in outs64.items():
            v32 = v.astype(np.float32)
            info = OrderedDict(offset=off, shape=list(v.shape), **checksum(v32))
            info["max_abs"] = float(np.abs(v).max())
            info["f32_numpy_max_abs_diff"] = float(np.abs(outs32[k].astype(np.float64) - v).max())
            if k == "mlm_logits":
                info["top5"] = [[int(t) for t in np.argsort(-row, kind="stable")[:5]] for row in v]
            entry["outputs"][k] = info
            floats.append(v32.reshape(-1))
            off += v32.size
        texts.append(entry)
    data = np.concatenate(floats).astype("<f4")
    meta = OrderedDict()
    meta["format"] = "edgespec-golden-bert/1"
    meta["model"] = fx["name"]
    meta["architecture"] = a
    meta["script"] = "tools/reference/bert_ref.py"
    meta["python"] = platform.python_version()
    meta["numpy"] = np.__version__
    meta["spec"] = "tools/reference/bert_fixtures.json"
    meta["seed"] = fx["seed"]
    meta["dtype"] = fx["dtype"]
    meta["config"] = cfg
    meta["tokenizer"] = "$EDGESPEC_FIXTURES/tokenizers/bert-base-uncased/vocab.txt (BertTokenizer, lowercase)"
    meta["compute"] = ("float64 numpy forward on the float32 weights (erf GELU, post-norm, all-ones "
                       "attention mask, token_type_ids 0, position ids 0..n-1); stored as float32. "
                       "f32_numpy_max_abs_diff: the same forward in float32 numpy, for tolerance hints.")
    meta["data"] = golden_stem(fx["name"]) + ".f32"
    meta["float_count"] = int(data.size)
    meta["order"] = ORDER_DOC
    meta["texts"] = texts
    meta["safetensors"] = OrderedDict(bytes=len(st), sha256=hashlib.sha256(st).hexdigest())
    meta["weights"] = OrderedDict(
        (n, OrderedDict(dtype=fx["dtype"], shape=list(w.shape), **checksum(w))) for n, w in ws.items())
    meta["checksum_rule"] = ("sum: float64 accumulation, one value after the other in row-major order, of "
                             "the float32 values; first4: the first four float32 values as doubles")
    return meta, data


def write_goldens():
    tok = BertWordPiece()
    selfcheck(tok)
    os.makedirs(GOLDEN_DIR, exist_ok=True)
    for fx in load_specs():
        meta, data = golden(fx, tok)
        jp = os.path.join(GOLDEN_DIR, golden_stem(fx["name"]) + ".json")
        with open(jp, "w", encoding="utf-8") as f:
            json.dump(meta, f, indent=1, ensure_ascii=False)
            f.write("\n")
        with open(os.path.join(GOLDEN_DIR, golden_stem(fx["name"]) + ".f32"), "wb") as f:
            f.write(data.tobytes())
        print(f"wrote {os.path.relpath(jp, REPO)} + .f32 ({data.size} floats)")
        for t in meta["texts"]:
            print(f"  n={len(t['ids'])} " + " ".join(
                f"{k}: max|x| {o['max_abs']:.3g} f32diff {o['f32_numpy_max_abs_diff']:.2g}" for k, o in t["outputs"].items()))


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "golden"
    if cmd == "golden":
        write_goldens()
    elif cmd == "check":
        selfcheck(BertWordPiece())
    elif cmd == "tokenize":
        ids, pieces = BertWordPiece().encode(sys.argv[2])
        print(json.dumps({"ids": ids, "tokens": pieces}, ensure_ascii=False))
    elif cmd == "checksums":
        fx = spec(sys.argv[2])
        print(json.dumps({n: {"shape": list(w.shape), **checksum(w)} for n, w in tensors(fx).items()}, indent=1))
    elif cmd == "write":
        write_checkpoint(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
