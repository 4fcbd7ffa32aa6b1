#!/usr/bin/env python3
"""Golden logits for the Llama family (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM),
from a plain numpy forward written from the Hugging Face transformers semantics, independently of
edgespec's TypeScript. numpy only; no torch.

    python3 tools/reference/llama_ref.py [--out packages/models/test/golden] [NAME ...]

NAME is a fixture of tools/reference/fixtures.json with "golden": true (weights from
tools/reference/fixtures.py) or `tinystories-656k` (real weights, read from
../shared/models/tinystories-656k relative to the repository root; never copied). No NAME: all.
Writes <out>/<NAME>.json and <out>/<NAME>.logits.f32; the JSON's "layout" field documents the
binary file.

Numerics: activations in float64; weights are the checkpoint's stored values (float32, or F16 /
BF16 upcast exactly). RoPE follows HF step by step in float32: inv_freq (incl. llama3 scaling, with
torch's `scalar / tensor` = `tensor.reciprocal() * scalar`), angle = float32(inv_freq * position),
cos / sin rounded to float32 (HF's cos / sin tables are float32 tensors). Everything after that is
float64: RMSNorm x / sqrt(mean(x^2) + eps) * w, rotate-half RoPE, repeat_kv GQA, causal softmax
attention scaled by 1/sqrt(head_dim), SwiGLU MLP down(silu(gate(x)) * up(x)), final norm, lm_head
(or the tied embedding).
"""
import argparse
import hashlib
import heapq
import json
import math
import os
import platform
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import fixtures  # noqa: E402

f32 = np.float32
SCRIPT = "tools/reference/llama_ref.py"
TINYSTORIES = os.path.join(REPO, "..", "shared", "models", "tinystories-656k")
N_DECODE = 8
PROMPT_LENGTHS = (1, 5, 11)
TINY_PROMPTS = ("Once upon a time", "The little dog", "Lily and Tom went to the park")


# ---------------------------------------------------------------- RoPE (HF, float32)

def hf_default_inv_freq(dim, base):
    # 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    exponent = (np.arange(0, dim, 2, dtype=np.int64).astype(f32) / f32(dim)).astype(f32)
    return (f32(1.0) / np.power(f32(base), exponent).astype(f32)).astype(f32)


def hf_llama3_inv_freq(inv_freq, rs):
    """transformers' _compute_llama3_parameters, every torch op in float32."""
    factor = rs["factor"]
    low = rs["low_freq_factor"]
    high = rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_freq_wavelen = old / low  # python floats
    high_freq_wavelen = old / high

    def rdiv(scalar, t):  # torch: scalar / tensor == tensor.reciprocal() * scalar
        return ((f32(1) / t).astype(f32) * f32(scalar)).astype(f32)

    wavelen = rdiv(2 * math.pi, inv_freq)
    inv_freq_llama = np.where(wavelen > low_freq_wavelen, (inv_freq / f32(factor)).astype(f32), inv_freq).astype(f32)
    smooth = ((rdiv(old, wavelen) - f32(low)).astype(f32) / f32(high - low)).astype(f32)
    smoothed = (((f32(1) - smooth).astype(f32) * inv_freq_llama).astype(f32) / f32(factor)).astype(f32)
    smoothed = (smoothed + (smooth * inv_freq_llama).astype(f32)).astype(f32)
    is_medium = ~(wavelen < high_freq_wavelen) & ~(wavelen > low_freq_wavelen)
    bands = np.where(wavelen < high_freq_wavelen, "kept", np.where(wavelen > low_freq_wavelen, "scaled", "smoothed"))
    return np.where(is_medium, smoothed, inv_freq_llama).astype(f32), [str(b) for b in bands]


def rope_inv_freq(cfg):
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    inv = hf_default_inv_freq(hd, cfg.get("rope_theta", 10000.0))
    rs = cfg.get("rope_scaling")
    bands = None
    if rs:
        kind = rs.get("rope_type", rs.get("type"))
        if kind == "llama3":
            inv, bands = hf_llama3_inv_freq(inv, rs)
        elif kind == "linear":
            inv = (inv / f32(rs["factor"])).astype(f32)
        elif kind != "default":
            raise NotImplementedError(f"rope_scaling {kind}")
    return inv, bands


def cos_sin(inv_freq, positions):
    ang = (np.asarray(positions, dtype=f32)[:, None] * inv_freq[None, :]).astype(f32)  # [T, hd/2]
    emb = np.concatenate([ang, ang], axis=-1).astype(np.float64)
    return np.cos(emb).astype(f32).astype(np.float64), np.sin(emb).astype(f32).astype(np.float64)


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


# ---------------------------------------------------------------- the model

class Llama:
    def __init__(self, cfg, weights):
        self.cfg = cfg
        self.h = cfg["hidden_size"]
        self.nh = cfg["num_attention_heads"]
        self.nkv = cfg.get("num_key_value_heads") or self.nh
        self.hd = cfg.get("head_dim") or self.h // self.nh
        self.eps = cfg["rms_norm_eps"]
        self.L = cfg["num_hidden_layers"]
        self.w = {k: np.asarray(v, dtype=np.float64) for k, v in weights.items()}
        if "model.embed_tokens.weight" not in self.w:  # tied, saved under lm_head.weight only
            self.w["model.embed_tokens.weight"] = self.w["lm_head.weight"]
        if "lm_head.weight" not in self.w or cfg.get("tie_word_embeddings"):
            self.w["lm_head.weight"] = self.w["model.embed_tokens.weight"]
        self.inv_freq, self.rope_bands = rope_inv_freq(cfg)

    def rmsnorm(self, x, name):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * self.w[name]

    def linear(self, x, name):
        y = x @ self.w[name + ".weight"].T
        b = self.w.get(name + ".bias")
        return y if b is None else y + b

    def new_cache(self):
        return [{"k": np.zeros((self.nkv, 0, self.hd)), "v": np.zeros((self.nkv, 0, self.hd))} for _ in range(self.L)]

    def forward(self, tokens, cache):
        """Logits [n, vocab] for `tokens` at positions len(cache)..; appends their K/V to cache."""
        tokens = np.asarray(tokens, dtype=np.int64)
        n = len(tokens)
        past = cache[0]["k"].shape[1]
        pos = np.arange(past, past + n)
        cos, sin = cos_sin(self.inv_freq, pos)  # [n, hd]
        x = self.w["model.embed_tokens.weight"][tokens]
        rep = self.nh // self.nkv
        total = past + n
        mask = np.arange(total)[None, :] <= pos[:, None]  # [n, total] causal
        for i in range(self.L):
            p = f"model.layers.{i}."
            hs = self.rmsnorm(x, p + "input_layernorm.weight")
            q = self.linear(hs, p + "self_attn.q_proj").reshape(n, self.nh, self.hd).transpose(1, 0, 2)
            k = self.linear(hs, p + "self_attn.k_proj").reshape(n, self.nkv, self.hd).transpose(1, 0, 2)
            v = self.linear(hs, p + "self_attn.v_proj").reshape(n, self.nkv, self.hd).transpose(1, 0, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            cache[i]["k"] = np.concatenate([cache[i]["k"], k], axis=1)
            cache[i]["v"] = np.concatenate([cache[i]["v"], v], axis=1)
            kk = np.repeat(cache[i]["k"], rep, axis=0)  # repeat_kv: kv head j serves heads j*rep .. j*rep+rep-1
            vv = np.repeat(cache[i]["v"], rep, axis=0)
            s = q @ kk.transpose(0, 2, 1) / math.sqrt(self.hd)  # [nh, n, total]
            s = np.where(mask[None], s, -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            s /= s.sum(-1, keepdims=True)
            a = (s @ vv).transpose(1, 0, 2).reshape(n, self.nh * self.hd)
            x = x + self.linear(a, p + "self_attn.o_proj")
            hs = self.rmsnorm(x, p + "post_attention_layernorm.weight")
            g = self.linear(hs, p + "mlp.gate_proj")
            u = self.linear(hs, p + "mlp.up_proj")
            x = x + self.linear(g / (1 + np.exp(-g)) * u, p + "mlp.down_proj")
        x = self.rmsnorm(x, "model.norm.weight")
        return x @ self.w["lm_head.weight"].T


def margin(row):
    top = np.sort(row)[-2:]
    return float(top[1] - top[0])


def run_case(model, prompt, n_decode, all_positions):
    """Prefill, then greedy decode. Returns prompt logits ([L, V], or [1, V] = last position only),
    decode logits [n_decode, V] (row k: after feeding greedy[k]) and the greedy tokens."""
    cache = model.new_cache()
    pl = model.forward(prompt, cache)
    toks, dec, margins = [], [], []
    last = pl[-1]
    for _ in range(n_decode):
        t = int(np.argmax(last))
        margins.append(margin(last))
        toks.append(t)
        last = model.forward([t], cache)[0]
        dec.append(last)
    return (pl if all_positions else pl[-1:]), np.array(dec), toks, margins


# ---------------------------------------------------------------- output

class LogitsFile:
    def __init__(self):
        self.parts = []
        self.offset = 0

    def add(self, arr, positions):
        a = np.asarray(arr, dtype="<f4")
        entry = {
            "offset": self.offset,  # in float32 elements from the start of the .f32 file
            "shape": list(a.shape),
            "positions": [int(p) for p in positions],
            **fixtures.checksum(a),
        }
        self.parts.append(a.tobytes())
        self.offset += a.size
        return entry

    def write(self, path):
        data = b"".join(self.parts)
        with open(path, "wb") as f:
            f.write(data)
        return {"file": os.path.basename(path), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


LAYOUT = (
    "The .f32 file is little-endian float32 logits, the cases one after the other and within a case "
    "prompt_logits then decode_logits, each row-major [rows, vocab_size]; every tensor entry gives its "
    "offset (in float32 elements), shape and sequence positions. prompt_logits row r: logits at position "
    "positions[r] after feeding the prompt (for a random-weight fixture every prompt position). decode_logits "
    "row k: logits after feeding greedy[k] at position len(prompt)+k. greedy[0] = argmax(prompt_logits at the "
    "last prompt position), greedy[k+1] = argmax(decode_logits[k]). checksums: sum = float64 sum of the "
    "float32 values in row-major order, accumulated sequentially; first4 = the first 4 values."
)


def generator_info():
    return {"script": SCRIPT, "numpy": np.__version__, "python": platform.python_version()}


def fixture_prompts(fx):
    """Seeded random prompts of lengths 1, 5, 11, ids in [3, vocab)."""
    rng = np.random.default_rng(fx["seed"] * 1000 + 17)
    return [[int(t) for t in rng.integers(3, fx["config"]["vocab_size"], size=L)] for L in PROMPT_LENGTHS]


def fixture_cases(model, prompts, lf):
    cases = []
    for prompt in prompts:
        L = len(prompt)
        pl, dl, toks, margins = run_case(model, prompt, N_DECODE, True)
        cases.append({
            "prompt": prompt,
            "greedy": toks,
            "greedy_margins": margins,
            "prompt_logits": lf.add(pl, range(L)),
            "decode_logits": lf.add(dl, range(L, L + N_DECODE)),
        })
    return cases


def golden_fixture(fx, out_dir):
    cfg = fx["config"]
    weights = fixtures.tensors(fx)
    model = Llama(cfg, weights)
    lf = LogitsFile()
    cases = fixture_cases(model, fixture_prompts(fx), lf)
    # the checkpoint bytes the python writer would produce (TS's writeFixture must match)
    ts = list(weights.items())
    ck = {}
    if fx.get("shards", 1) == 1:
        ck["model.safetensors"] = hashlib.sha256(fixtures.safetensors_bytes(ts, fx["dtype"])).hexdigest()
    else:
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            fixtures.write_checkpoint(fx["name"], d)
            for fn in sorted(os.listdir(d)):
                if fn.endswith(".safetensors"):
                    with open(os.path.join(d, fn), "rb") as f:
                        ck[fn] = hashlib.sha256(f.read()).hexdigest()
    name = fx["name"]
    lfinfo = lf.write(os.path.join(out_dir, name + ".logits.f32"))
    doc = {
        "schema": "edgespec-golden-llama/1",
        "name": name,
        "generator": generator_info(),
        "source": {"kind": "fixture", "fixtures_json": "tools/reference/fixtures.json", "seed": fx["seed"], "dtype": fx["dtype"]},
        "architecture": cfg["architectures"][0],
        "vocab_size": cfg["vocab_size"],
        "rope_inv_freq": [float(v) for v in model.inv_freq],
        **({"rope_llama3_bands": model.rope_bands} if model.rope_bands else {}),
        "logits": {**lfinfo, "dtype": "float32-le", "layout": LAYOUT},
        "cases": cases,
        "weights": fixtures.weight_checksums(fx),
        "checkpoint_sha256": ck,
    }
    with open(os.path.join(out_dir, name + ".json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    return doc


# ---------------------------------------------------------------- TinyStories-656K

def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    base = 8 + n
    dt = {"F32": "<f4", "F16": "<f2"}
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw[base + a:base + b], dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw[base + a:base + b], dtype=dt[info["dtype"]]).astype(np.float32)
        out[name] = arr.reshape(info["shape"])
    return out, header.get("__metadata__", {})


class SpmBpeTokenizer:
    """Just enough of HF `tokenizers` for this tokenizer.json: added tokens split out first,
    normalizer Sequence[Prepend("▁"), Replace(" ", "▁")], no pre-tokenizer (the whole normalized
    text is one word), BPE with merge ranks (heap of (rank, position), like tokenizers' Word::merge_all),
    byte_fallback to <0xXX> when those tokens exist, else unk (fused), TemplateProcessing BOS."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            tj = json.load(f)
        m = tj["model"]
        assert m["type"] == "BPE" and tj["pre_tokenizer"] is None
        self.vocab = m["vocab"]
        self.id_to_token = {i: t for t, i in self.vocab.items()}
        self.unk = self.vocab.get(m.get("unk_token")) if m.get("unk_token") else None
        self.byte_fallback = m.get("byte_fallback", False)
        self.fuse_unk = m.get("fuse_unk", False)
        self.merges = {}
        for rank, mg in enumerate(m["merges"]):
            a, b = mg.split(" ") if isinstance(mg, str) else mg
            self.merges[(self.vocab[a], self.vocab[b])] = (rank, self.vocab[a + b])
        self.added_specs = tj["added_tokens"]
        self.added = {t["content"]: t["id"] for t in tj["added_tokens"]}
        norms = tj["normalizer"]["normalizers"] if tj["normalizer"]["type"] == "Sequence" else [tj["normalizer"]]
        self.normalizers = norms
        pp = tj["post_processor"]
        assert pp["type"] == "TemplateProcessing"
        self.prefix = []
        for piece in pp["single"]:
            if "SpecialToken" in piece:
                self.prefix += pp["special_tokens"][piece["SpecialToken"]["id"]]["ids"]
            else:
                break

    def normalize(self, s):
        for nm in self.normalizers:
            if nm["type"] == "Prepend":
                s = nm["prepend"] + s if s else s
            elif nm["type"] == "Replace":
                s = s.replace(nm["pattern"]["String"], nm["content"])
            else:
                raise NotImplementedError(nm["type"])
        return s

    def bpe(self, word):
        syms = []
        in_unk = False  # the previous char became <unk> (fuse_unk merges a run of them)
        for ch in word:
            if ch in self.vocab:
                syms.append(self.vocab[ch])
                in_unk = False
                continue
            if self.byte_fallback:
                bs = [self.vocab.get(f"<0x{b:02X}>") for b in ch.encode("utf-8")]
                if all(b is not None for b in bs):
                    syms.extend(bs)
                    in_unk = False
                    continue
            if not (self.fuse_unk and in_unk):
                syms.append(self.unk)
            in_unk = True
        n = len(syms)
        ids = list(syms)
        prev = list(range(-1, n - 1))
        nxt = list(range(1, n + 1))
        alive = [True] * n
        heap = []
        for i in range(n - 1):
            m = self.merges.get((ids[i], ids[i + 1]))
            if m:
                heapq.heappush(heap, (m[0], i, m[1]))
        while heap:
            rank, pos, new_id = heapq.heappop(heap)
            if not alive[pos] or nxt[pos] >= n:
                continue
            r = nxt[pos]
            m = self.merges.get((ids[pos], ids[r]))
            if m is None or m[1] != new_id:
                continue
            ids[pos] = new_id
            alive[r] = False
            nxt[pos] = nxt[r]
            if nxt[pos] < n:
                prev[nxt[pos]] = pos
            if prev[pos] >= 0:
                m = self.merges.get((ids[prev[pos]], ids[pos]))
                if m:
                    heapq.heappush(heap, (m[0], prev[pos], m[1]))
            if nxt[pos] < n:
                m = self.merges.get((ids[pos], ids[nxt[pos]]))
                if m:
                    heapq.heappush(heap, (m[0], pos, m[1]))
        return [ids[i] for i in range(n) if alive[i]]

    def encode(self, text):
        """tokenizers' AddedVocabulary::extract_and_normalize, then BPE on each normalized piece.
        Every added token here has normalized=true, so it is matched on the NORMALIZED text
        against its normalized content: "<|end_story|>" becomes "▁<|end_story|>" and is only
        recognized after a space or at the start (the literal "a<|end_story|>b" is plain text)."""
        assert all(t["normalized"] for t in self.added_specs)
        s = self.normalize(text)
        pats = sorted(((self.normalize(c), i) for c, i in self.added.items()), key=lambda p: -len(p[0]))
        ids = list(self.prefix)
        i = start = 0
        while i < len(s):  # leftmost match, longest pattern first
            for pat, tid in pats:
                if s.startswith(pat, i):
                    if i > start:
                        ids += self.bpe(s[start:i])
                    ids.append(tid)
                    i = start = i + len(pat)
                    break
            else:
                i += 1
        if start < len(s):
            ids += self.bpe(s[start:])
        return ids

    def decode(self, ids, skip_special=True):
        # decoder: Replace(▁ -> " "), ByteFallback, Fuse, Strip(one leading space)
        out = []
        for i in ids:
            t = self.id_to_token[i]
            if skip_special and t in self.added:
                continue
            out.append(t.replace("\u2581", " "))
        s = "".join(out)
        return s[1:] if s.startswith(" ") else s


def golden_tinystories(out_dir):
    d = os.path.normpath(TINYSTORIES)
    with open(os.path.join(d, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    weights, meta = read_safetensors(os.path.join(d, "model.safetensors"))
    model = Llama(cfg, weights)
    tok = SpmBpeTokenizer(os.path.join(d, "tokenizer.json"))
    with open(os.path.join(d, "model.safetensors"), "rb") as f:
        st_sha = hashlib.sha256(f.read()).hexdigest()
    with open(os.path.join(d, "tokenizer.json"), "rb") as f:
        tj_sha = hashlib.sha256(f.read()).hexdigest()
    lf = LogitsFile()
    cases = []
    for text in TINY_PROMPTS:
        ids = tok.encode(text)
        pl, dl, toks, margins = run_case(model, ids, N_DECODE, False)
        cases.append({
            "text": text,
            "prompt": ids,
            "prompt_tokens": [tok.id_to_token[i] for i in ids],
            "greedy": toks,
            "greedy_text": tok.decode(toks),
            "greedy_margins": margins,
            "prompt_logits": lf.add(pl, [len(ids) - 1]),
            "decode_logits": lf.add(dl, range(len(ids), len(ids) + N_DECODE)),
        })
    # 256 greedy tokens from BOS alone, ids only (no stop at EOS)
    cache = model.new_cache()
    last = model.forward([cfg["bos_token_id"]], cache)[0]
    gen, margins = [], []
    for _ in range(256):
        t = int(np.argmax(last))
        gen.append(t)
        margins.append(margin(last))
        last = model.forward([t], cache)[0]
    lfinfo = lf.write(os.path.join(out_dir, "tinystories-656k.logits.f32"))
    doc = {
        "schema": "edgespec-golden-llama/1",
        "name": "tinystories-656k",
        "generator": generator_info(),
        "source": {
            "kind": "checkpoint",
            "path": "../shared/models/tinystories-656k",
            "model_safetensors_sha256": st_sha,
            "tokenizer_json_sha256": tj_sha,
            "safetensors_metadata": meta,
        },
        "architecture": cfg["architectures"][0],
        "vocab_size": cfg["vocab_size"],
        "rope_inv_freq": [float(v) for v in model.inv_freq],
        "logits": {**lfinfo, "dtype": "float32-le", "layout": LAYOUT + " For this checkpoint prompt_logits is the last prompt position only."},
        "cases": cases,
        "bos_greedy": {
            "prompt": [cfg["bos_token_id"]],
            "tokens": gen,
            "text": tok.decode(gen),
            "margins": margins,
            "near_ties": [{"index": i, "margin": m} for i, m in enumerate(margins) if m < 1e-3],
            # tokens[:reliable_prefix] have a top-1/top-2 gap >= 1e-3; past a near tie a float32
            # engine may legitimately pick the other token
            "reliable_prefix": next((i for i, m in enumerate(margins) if m < 1e-3), len(margins)),
            "first_eos_index": gen.index(cfg["eos_token_id"]) if cfg["eos_token_id"] in gen else None,
        },
    }
    with open(os.path.join(out_dir, "tinystories-656k.json"), "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, ensure_ascii=False)
        f.write("\n")
    return doc


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(REPO, "packages", "models", "test", "golden"))
    ap.add_argument("names", nargs="*")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    specs = {fx["name"]: fx for fx in fixtures.load_fixtures() if fx.get("golden", True)}
    names = args.names or [*specs, "tinystories-656k"]
    for name in names:
        if name == "tinystories-656k":
            doc = golden_tinystories(args.out)
        else:
            doc = golden_fixture(specs[name], args.out)
        mm = min(min(c["greedy_margins"]) for c in doc["cases"])
        extra = f", BOS greedy reliable prefix {doc['bos_greedy']['reliable_prefix']}" if "bos_greedy" in doc else ""
        print(f"{name}: {doc['logits']['bytes']} logits bytes, min greedy margin {mm:.4g}{extra}")


if __name__ == "__main__":
    main()
