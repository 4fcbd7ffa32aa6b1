#!/usr/bin/env python3
"""An independent GGUF v3 writer (numpy only), and the `llama-gqa3` fixture converted to GGUF the
way llama.cpp's convert_hf_to_gguf.py does for LlamaForCausalLM, in F16, Q8_0 and Q4_0.

    python3 tools/reference/write_gguf.py [OUT_DIR]     # default packages/models/test/golden/gguf

Writes OUT_DIR/llama-gqa3.{f16,q8_0,q4_0}.gguf and OUT_DIR/llama-gqa3.gguf.json (sha256 and size
of each file, the tensor table, and golden logits of the quantized files: the forward of
tools/reference/llama_ref.py on the weights dequantized back from the written bytes, with the
q/k permutation undone; the .f16 file holds exactly the fixture's F16 values, so its logits are
those of ../llama-gqa3.json). Quantized logits go to OUT_DIR/llama-gqa3.{q8_0,q4_0}.logits.f32.

Conversion (convert_hf_to_gguf.py, LlamaModel): HF names -> GGUF names; q_proj and k_proj
permuted by LlamaModel.permute(w, n_head, n_head_kv) (q with n_head, k with n_head_kv) so that
llama.cpp's interleaved ("normal") RoPE equals HF's rotate-half; the permutation is applied before
quantizing; 1-D tensors (norms) stay F32; 2-D tensors in the file's type. Tensors are written in
the order convert_hf_to_gguf sees them (sorted HF names, as safetensors' keys() returns them).
Quantizers: ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref, in float32, d stored as f16.
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import fixtures  # noqa: E402
import llama_ref  # noqa: E402

f32 = np.float32
ALIGNMENT = 32
FIXTURE = "llama-gqa3"

# metadata value types
UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
SCALAR_FMT = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i", FLOAT32: "<f",
              BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}
# ggml tensor types
GGML_F32, GGML_F16, GGML_Q4_0, GGML_Q8_0 = 0, 1, 2, 8
TYPE_NAME = {GGML_F32: "F32", GGML_F16: "F16", GGML_Q4_0: "Q4_0", GGML_Q8_0: "Q8_0"}
# llama_ftype (general.file_type)
FILE_TYPE = {"f16": 1, "q4_0": 2, "q8_0": 7}
TYPE_OF = {"f16": GGML_F16, "q8_0": GGML_Q8_0, "q4_0": GGML_Q4_0}
# llama_token_type
TT_NORMAL, TT_UNKNOWN, TT_CONTROL, TT_USER_DEFINED, TT_UNUSED, TT_BYTE = 1, 2, 3, 4, 5, 6


# ---------------------------------------------------------------- the writer

def gguf_string(s):
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def gguf_value(vtype, value):
    if vtype == STRING:
        return gguf_string(value)
    if vtype == ARRAY:
        etype, items = value
        out = struct.pack("<IQ", etype, len(items))
        return out + b"".join(gguf_value(etype, v) for v in items)
    return struct.pack(SCALAR_FMT[vtype], value)


def pad(n, align=ALIGNMENT):
    return (align - n % align) % align


def gguf_bytes(kvs, tensors):
    """kvs: [(key, type, value)], value of an ARRAY is (element type, list).
    tensors: [(name, numpy shape, ggml type, raw bytes)]. Returns the whole file."""
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs))
    for key, vtype, value in kvs:
        head += gguf_string(key) + struct.pack("<I", vtype) + gguf_value(vtype, value)
    data = b""
    for name, shape, gtype, raw in tensors:
        dims = list(reversed(shape))  # ggml order: ne[0] is the fastest-varying (row length)
        head += gguf_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        head += struct.pack("<IQ", gtype, len(data))
        data += raw + b"\0" * pad(len(raw))
    return head + b"\0" * pad(len(head)) + data


# ---------------------------------------------------------------- ggml quantizers (reference)

def f16_bytes(x):
    return np.asarray(x, dtype=f32).astype("<f2").tobytes()


def quantize_q8_0(x):
    """quantize_row_q8_0_ref over rows of 32: d = amax / 127, id = d ? 1/d : 0, q = roundf(x * id)."""
    blk = np.asarray(x, dtype=f32).reshape(-1, 32)
    amax = np.abs(blk).max(axis=1)
    d = (amax / f32(127)).astype(f32)
    with np.errstate(divide="ignore"):
        idd = np.where(d != 0, (f32(1) / d).astype(f32), f32(0)).astype(f32)
    v = (blk * idd[:, None]).astype(f32).astype(np.float64)
    q = (np.sign(v) * np.floor(np.abs(v) + 0.5)).astype(np.int8)  # roundf: half away from zero
    out = np.zeros(len(blk), dtype=[("d", "<f2"), ("qs", "i1", 32)])
    out["d"] = d.astype(np.float16)
    out["qs"] = q
    return out.tobytes()


def quantize_q4_0(x):
    """quantize_row_q4_0_ref: max = the value of largest |x| (first one, strict >), d = max / -8,
    id = d ? 1/d : 0, q = min(15, (int8)(x * id + 8.5f)); qs[j] = q[j] | q[j + 16] << 4."""
    blk = np.asarray(x, dtype=f32).reshape(-1, 32)
    j = np.argmax(np.abs(blk), axis=1)  # first index of the maximum, like the strict `amax < fabsf(v)`
    mx = blk[np.arange(len(blk)), j]
    d = (mx / f32(-8)).astype(f32)
    with np.errstate(divide="ignore"):
        idd = np.where(d != 0, (f32(1) / d).astype(f32), f32(0)).astype(f32)
    v = ((blk * idd[:, None]).astype(f32) + f32(8.5)).astype(f32)
    q = np.minimum(15, np.trunc(v).astype(np.int32))
    out = np.zeros(len(blk), dtype=[("d", "<f2"), ("qs", "u1", 16)])
    out["d"] = d.astype(np.float16)
    out["qs"] = (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8)
    return out.tobytes()


def dequantize(raw, gtype, shape):
    n = int(np.prod(shape))
    if gtype == GGML_F32:
        a = np.frombuffer(raw, dtype="<f4", count=n)
    elif gtype == GGML_F16:
        a = np.frombuffer(raw, dtype="<f2", count=n).astype(f32)
    elif gtype == GGML_Q8_0:
        b = np.frombuffer(raw, dtype=[("d", "<f2"), ("qs", "i1", 32)], count=n // 32)
        a = (b["d"].astype(f32)[:, None] * b["qs"].astype(f32)).astype(f32)
    elif gtype == GGML_Q4_0:
        b = np.frombuffer(raw, dtype=[("d", "<f2"), ("qs", "u1", 16)], count=n // 32)
        q = np.concatenate([b["qs"] & 0x0F, b["qs"] >> 4], axis=1).astype(np.int32) - 8
        a = (b["d"].astype(f32)[:, None] * q.astype(f32)).astype(f32)
    else:
        raise ValueError(gtype)
    return np.asarray(a, dtype=f32).reshape(shape)


def tensor_nbytes(gtype, shape):
    n = int(np.prod(shape))
    return {GGML_F32: 4 * n, GGML_F16: 2 * n, GGML_Q8_0: n // 32 * 34, GGML_Q4_0: n // 32 * 18}[gtype]


# ---------------------------------------------------------------- an independent reader (self-check)

def read_gguf(buf):
    pos = 0

    def take(fmt):
        nonlocal pos
        v = struct.unpack_from(fmt, buf, pos)
        pos += struct.calcsize(fmt)
        return v[0] if len(v) == 1 else v

    def string():
        nonlocal pos
        n = take("<Q")
        s = buf[pos:pos + n].decode("utf-8")
        pos += n
        return s

    def value(t):
        if t == STRING:
            return string()
        if t == ARRAY:
            et, n = take("<I"), take("<Q")
            return [value(et) for _ in range(n)]
        return take(SCALAR_FMT[t])

    assert buf[:4] == b"GGUF"
    pos = 4
    version, n_t, n_kv = take("<I"), take("<Q"), take("<Q")
    assert version == 3
    kv = {}
    for _ in range(n_kv):
        k = string()
        kv[k] = value(take("<I"))
    infos = []
    for _ in range(n_t):
        name = string()
        nd = take("<I")
        dims = [take("<Q") for _ in range(nd)]
        gtype, off = take("<I"), take("<Q")
        infos.append((name, dims, gtype, off))
    align = kv.get("general.alignment", 32)
    base = pos + pad(pos, align)
    tensors = {}
    for name, dims, gtype, off in infos:
        assert off % align == 0
        shape = list(reversed(dims))
        raw = buf[base + off:base + off + tensor_nbytes(gtype, shape)]
        tensors[name] = (shape, gtype, dequantize(raw, gtype, shape))
    return kv, infos, tensors


# ---------------------------------------------------------------- convert_hf_to_gguf (LlamaModel)

def permute(w, n_head, n_head_kv):
    """LlamaModel.permute."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute(w, n_head, n_head_kv):
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def gguf_name(hf):
    if hf == "model.embed_tokens.weight":
        return "token_embd.weight"
    if hf == "model.norm.weight":
        return "output_norm.weight"
    if hf == "lm_head.weight":
        return "output.weight"
    parts = hf.split(".")
    assert parts[:2] == ["model", "layers"], hf
    i, rest = parts[2], ".".join(parts[3:])
    m = {
        "input_layernorm.weight": "attn_norm.weight",
        "self_attn.q_proj.weight": "attn_q.weight",
        "self_attn.k_proj.weight": "attn_k.weight",
        "self_attn.v_proj.weight": "attn_v.weight",
        "self_attn.o_proj.weight": "attn_output.weight",
        "post_attention_layernorm.weight": "ffn_norm.weight",
        "mlp.gate_proj.weight": "ffn_gate.weight",
        "mlp.up_proj.weight": "ffn_up.weight",
        "mlp.down_proj.weight": "ffn_down.weight",
    }
    return f"blk.{i}.{m[rest]}"


def vocab(n_vocab):
    """A SentencePiece-style byte vocabulary: <unk>, <s>, </s>, then byte tokens <0x00>.. up to
    n_vocab. With 256 entries that is <0x00>..<0xFC>: only 0xFD..0xFF are left out, bytes that
    never occur in UTF-8."""
    toks = ["<unk>", "<s>", "</s>"]
    types = [TT_UNKNOWN, TT_CONTROL, TT_CONTROL]
    for b in range(256):
        if len(toks) == n_vocab:
            break
        toks.append(f"<0x{b:02X}>")
        types.append(TT_BYTE)
    while len(toks) < n_vocab:
        toks.append(f"[PAD{len(toks)}]")
        types.append(TT_UNUSED)
    return toks, [0.0] * n_vocab, types


def convert(fx, kind):
    cfg = fx["config"]
    nh = cfg["num_attention_heads"]
    nkv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // nh
    toks, scores, types = vocab(cfg["vocab_size"])
    kvs = [
        ("general.architecture", STRING, "llama"),
        ("general.type", STRING, "model"),
        ("general.name", STRING, fx["name"]),
        ("general.alignment", UINT32, ALIGNMENT),
        ("llama.block_count", UINT32, cfg["num_hidden_layers"]),
        ("llama.context_length", UINT32, cfg["max_position_embeddings"]),
        ("llama.embedding_length", UINT32, cfg["hidden_size"]),
        ("llama.feed_forward_length", UINT32, cfg["intermediate_size"]),
        ("llama.attention.head_count", UINT32, nh),
        ("llama.attention.head_count_kv", UINT32, nkv),
        ("llama.rope.freq_base", FLOAT32, float(cfg["rope_theta"])),
        ("llama.attention.layer_norm_rms_epsilon", FLOAT32, float(cfg["rms_norm_eps"])),
        ("general.file_type", UINT32, FILE_TYPE[kind]),
        ("llama.vocab_size", UINT32, cfg["vocab_size"]),
        ("llama.rope.dimension_count", UINT32, hd),
        ("general.quantization_version", UINT32, 2),
        ("tokenizer.ggml.model", STRING, "llama"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, toks)),
        ("tokenizer.ggml.scores", ARRAY, (FLOAT32, scores)),
        ("tokenizer.ggml.token_type", ARRAY, (INT32, types)),
        ("tokenizer.ggml.bos_token_id", UINT32, cfg["bos_token_id"]),
        ("tokenizer.ggml.eos_token_id", UINT32, cfg["eos_token_id"]),
        ("tokenizer.ggml.unknown_token_id", UINT32, 0),
        ("tokenizer.ggml.add_bos_token", BOOL, True),
        ("tokenizer.ggml.add_eos_token", BOOL, False),
    ]
    weights = fixtures.tensors(fx)
    out = []
    for hf in sorted(weights):
        w = weights[hf].astype(f32)
        if hf.endswith("self_attn.q_proj.weight"):
            w = permute(w, nh, nh)
        elif hf.endswith("self_attn.k_proj.weight"):
            w = permute(w, nh, nkv)
        if w.ndim == 1:
            gtype, raw = GGML_F32, w.astype("<f4").tobytes()
        else:
            gtype = TYPE_OF[kind]
            raw = {GGML_F16: f16_bytes, GGML_Q8_0: quantize_q8_0, GGML_Q4_0: quantize_q4_0}[gtype](w)
        assert len(raw) == tensor_nbytes(gtype, list(w.shape))
        out.append((gguf_name(hf), list(w.shape), gtype, raw))
    return gguf_bytes(kvs, out)


def hf_weights_from_gguf(tensors, cfg):
    """Dequantized GGUF tensors back under their HF names, q/k permutation undone."""
    nh, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    back = {gguf_name(n): n for n, _ in fixtures.tensor_specs(cfg)}
    w = {}
    for gname, (_, _, a) in tensors.items():
        hf = back[gname]
        if hf.endswith("q_proj.weight"):
            a = unpermute(a, nh, nh)
        elif hf.endswith("k_proj.weight"):
            a = unpermute(a, nh, nkv)
        w[hf] = a
    return w


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(REPO, "packages", "models", "test", "golden", "gguf")
    os.makedirs(out_dir, exist_ok=True)
    fx = fixtures.spec(FIXTURE)
    cfg = fx["config"]
    src = fixtures.tensors(fx)
    # self-checks of the pieces against small known cases
    w = np.arange(2 * 3 * 4, dtype=f32).reshape(12, 2)
    assert np.array_equal(unpermute(permute(w, 3, 3), 3, 3), w)
    manifest = {
        "generator": llama_ref.generator_info() | {"script": "tools/reference/write_gguf.py"},
        "fixture": FIXTURE,
        "source": "tools/reference/fixtures.json (weights by tools/reference/fixtures.py)",
        "files": {},
    }
    for kind in ("f16", "q8_0", "q4_0"):
        fname = f"{FIXTURE}.{kind}.gguf"
        data = convert(fx, kind)
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(data)
        kv, infos, tensors = read_gguf(data)
        assert kv["general.architecture"] == "llama" and len(tensors) == len(src)
        hfw = hf_weights_from_gguf(tensors, cfg)
        errs = {}
        for n, a in src.items():
            e = float(np.abs(hfw[n].astype(np.float64) - a).max())
            errs[n] = e
            if kind == "f16" or a.ndim == 1:
                assert e == 0.0, (kind, n, e)
        entry = {
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "general.file_type": FILE_TYPE[kind],
            "tensors": [{"name": n, "ggml_dims": d, "type": TYPE_NAME[t], "offset": o} for n, d, t, o in infos],
            "max_abs_dequant_error": max(errs.values()),
        }
        if kind == "f16":
            entry["logits"] = "identical to ../llama-gqa3.json (the GGUF holds the fixture's F16 values exactly)"
        else:
            model = llama_ref.Llama(cfg, hfw)
            lf = llama_ref.LogitsFile()
            cases = llama_ref.fixture_cases(model, llama_ref.fixture_prompts(fx), lf)
            lfinfo = lf.write(os.path.join(out_dir, f"{FIXTURE}.{kind}.logits.f32"))
            entry["golden"] = {
                "what": "HF-semantics forward (llama_ref.py) on the weights dequantized from this file, q/k un-permuted",
                "logits": {**lfinfo, "dtype": "float32-le", "layout": llama_ref.LAYOUT},
                "cases": cases,
            }
            print(f"{fname}: min greedy margin {min(min(c['greedy_margins']) for c in cases):.4g}")
        manifest["files"][fname] = entry
        print(f"{fname}: {len(data)} bytes, max |dequant - fixture| {entry['max_abs_dequant_error']:.3g}")
    with open(os.path.join(out_dir, f"{FIXTURE}.gguf.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
