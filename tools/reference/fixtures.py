#!/usr/bin/env python3
"""The random-weight test checkpoints of tools/reference/fixtures.json, built with numpy by the
rule of FIXTURES.md, independently of the TypeScript generator
(packages/models/test/fixtures/generate.ts). numpy only.

    python3 tools/reference/fixtures.py list
    python3 tools/reference/fixtures.py checksums NAME        # per-tensor {dtype, shape, sum, first4}
    python3 tools/reference/fixtures.py write NAME DIR        # a Hugging Face checkpoint directory

As a module: `spec(name)`, `tensor_specs(config)`, `tensors(name)` (name -> float32 array of the
stored values, i.e. after F16/BF16 rounding), `stored_bytes(array, dtype)`, `checksum(array)`.

Weight rule (FIXTURES.md): h = fnv1a32(utf8(name)); stream = splitmix32((seed ^ h) >>> 0);
r = 2u - 1 in double; norm weights 1 + 0.25 r; biases 0.1 r; embeddings r; other 2-D tensors
r / sqrt(shape[1]); rounded to float32 (nearest even), then to the storage dtype (nearest even).
"""
import json
import math
import os
import sys
from collections import OrderedDict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES_JSON = os.path.join(HERE, "fixtures.json")
M32 = np.uint64(0xFFFFFFFF)


def load_fixtures():
    with open(FIXTURES_JSON, encoding="utf-8") as f:
        return json.load(f)


def spec(name):
    for fx in load_fixtures():
        if fx["name"] == name:
            return fx
    raise KeyError(f"no fixture named {name!r} in {FIXTURES_JSON}")


def fnv1a32(s):
    h = 0x811C9DC5
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h


def splitmix32_block(seed, n):
    """The first n outputs of splitmix32(seed) as uint32, vectorized: the k-th call (k = 1..n)
    sees state seed + k * 0x9e3779b9 (mod 2^32)."""
    k = np.arange(1, n + 1, dtype=np.uint64)
    z = (np.uint64(seed & 0xFFFFFFFF) + k * np.uint64(0x9E3779B9)) & M32
    z = ((z ^ (z >> np.uint64(16))) * np.uint64(0x85EBCA6B)) & M32
    z = ((z ^ (z >> np.uint64(13))) * np.uint64(0xC2B2AE35)) & M32
    return (z ^ (z >> np.uint64(16))).astype(np.uint32)


def splitmix32_scalar(seed):
    """A literal transcription of random.ts, used to cross-check the vectorized form."""
    s = seed & 0xFFFFFFFF

    def nxt():
        nonlocal s
        s = (s + 0x9E3779B9) & 0xFFFFFFFF
        z = s
        z = ((z ^ (z >> 16)) * 0x85EBCA6B) & 0xFFFFFFFF
        z = ((z ^ (z >> 13)) * 0xC2B2AE35) & 0xFFFFFFFF
        return ((z ^ (z >> 16)) & 0xFFFFFFFF) / 4294967296

    return nxt


def kind_of(name, shape):
    if name.endswith(".weight") and ("norm" in name or "LayerNorm" in name):
        return "norm"
    if name.endswith(".bias"):
        return "bias"
    if len(shape) == 2:
        return "embedding" if "embed" in name else "linear"
    raise ValueError(f"no weight rule for {name} {shape}")


def f32_values(name, shape, seed):
    """float32 values of one tensor, before the storage-dtype rounding."""
    n = int(np.prod(shape))
    u = splitmix32_block((seed ^ fnv1a32(name)) & 0xFFFFFFFF, n).astype(np.float64) / 4294967296.0
    r = 2.0 * u - 1.0
    kind = kind_of(name, shape)
    if kind == "norm":
        v = 1.0 + 0.25 * r
    elif kind == "bias":
        v = 0.1 * r
    elif kind == "embedding":
        v = r
    else:
        v = r / math.sqrt(shape[1])
    return v.astype(np.float32).reshape(shape)


def bf16_bits(x):
    """float32 -> bfloat16 bits, round to nearest even on the uint32 pattern (finite inputs)."""
    b = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + np.uint64(0x7FFF) + ((b >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)
    return b.astype(np.uint16)


def to_stored(x, dtype):
    """float32 array of the values the checkpoint stores in `dtype`."""
    if dtype == "F32":
        return x.astype(np.float32)
    if dtype == "F16":
        return x.astype(np.float16).astype(np.float32)  # numpy: round to nearest even
    if dtype == "BF16":
        return (bf16_bits(x).astype(np.uint32) << np.uint32(16)).view(np.float32).reshape(x.shape)
    raise ValueError(dtype)


def stored_bytes(x, dtype):
    if dtype == "F32":
        return x.astype("<f4").tobytes()
    if dtype == "F16":
        return x.astype("<f2").tobytes()
    if dtype == "BF16":
        return bf16_bits(x).astype("<u2").tobytes()
    raise ValueError(dtype)


def tensor_specs(config):
    """(HF name, shape) in Hugging Face module order, for Llama / Mistral / Qwen2."""
    h = config["hidden_size"]
    nh = config["num_attention_heads"]
    nkv = config.get("num_key_value_heads") or nh
    hd = config.get("head_dim") or h // nh
    inter = config["intermediate_size"]
    vocab = config["vocab_size"]
    qwen2 = config.get("model_type") == "qwen2"
    qkv_bias = qwen2 or bool(config.get("attention_bias"))
    o_bias = (not qwen2) and bool(config.get("attention_bias"))
    mlp_bias = bool(config.get("mlp_bias"))
    out = [("model.embed_tokens.weight", [vocab, h])]
    for i in range(config["num_hidden_layers"]):
        p = f"model.layers.{i}."
        out.append((p + "input_layernorm.weight", [h]))
        for proj, rows in (("q", nh * hd), ("k", nkv * hd), ("v", nkv * hd)):
            out.append((p + f"self_attn.{proj}_proj.weight", [rows, h]))
            if qkv_bias:
                out.append((p + f"self_attn.{proj}_proj.bias", [rows]))
        out.append((p + "self_attn.o_proj.weight", [h, nh * hd]))
        if o_bias:
            out.append((p + "self_attn.o_proj.bias", [h]))
        out.append((p + "post_attention_layernorm.weight", [h]))
        for proj, shape in (("gate", [inter, h]), ("up", [inter, h]), ("down", [h, inter])):
            out.append((p + f"mlp.{proj}_proj.weight", shape))
            if mlp_bias:
                out.append((p + f"mlp.{proj}_proj.bias", [shape[0]]))
    out.append(("model.norm.weight", [h]))
    if not config.get("tie_word_embeddings", False):
        out.append(("lm_head.weight", [vocab, h]))
    return out


def tensors(name_or_spec):
    """name -> float32 array of the stored values (exact for F16 / BF16), in HF module order."""
    fx = spec(name_or_spec) if isinstance(name_or_spec, str) else name_or_spec
    out = OrderedDict()
    for tname, shape in tensor_specs(fx["config"]):
        out[tname] = to_stored(f32_values(tname, shape, fx["seed"]), fx["dtype"])
    return out


def checksum(x):
    """{sum, first4}: sum = float64 accumulation in row-major order, one value after the other
    (np.cumsum is sequential, so a plain JS loop gives the same double bit for bit)."""
    flat = np.asarray(x, dtype=np.float64).reshape(-1)
    return {"sum": float(np.cumsum(flat)[-1]) if flat.size else 0.0, "first4": [float(v) for v in flat[:4]]}


def weight_checksums(fx):
    return OrderedDict(
        (n, {"dtype": fx["dtype"], "shape": list(a.shape), **checksum(a)}) for n, a in tensors(fx).items()
    )


def shard_of(cum_before, total, shards):
    """Shard index of a tensor whose data starts `cum_before` bytes into the whole model."""
    return min(shards - 1, (cum_before * shards) // total)


def safetensors_bytes(items, dtype):
    """items: [(name, float32 array)] -> bytes of one .safetensors file (header padded with spaces
    to a multiple of 8, tensors in the given order)."""
    header = {"__metadata__": {"format": "pt"}}
    blobs, off = [], 0
    for n, a in items:
        b = stored_bytes(a, dtype)
        header[n] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    return len(hj).to_bytes(8, "little") + hj + b"".join(blobs)


def write_checkpoint(name, out_dir):
    fx = spec(name)
    cfg = fx["config"]
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(out_dir, "generation_config.json"), "w", encoding="utf-8") as f:
        json.dump({"bos_token_id": cfg.get("bos_token_id"), "eos_token_id": cfg.get("eos_token_id")}, f, indent=2)
    ts = list(tensors(fx).items())
    dtype, shards = fx["dtype"], fx.get("shards", 1)
    if shards == 1:
        with open(os.path.join(out_dir, "model.safetensors"), "wb") as f:
            f.write(safetensors_bytes(ts, dtype))
        return
    isz = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    total = sum(a.size * isz for _, a in ts)
    parts = [[] for _ in range(shards)]
    cum = 0
    for n, a in ts:
        parts[shard_of(cum, total, shards)].append((n, a))
        cum += a.size * isz
    weight_map = OrderedDict()
    for i, part in enumerate(parts):
        fname = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        with open(os.path.join(out_dir, fname), "wb") as f:
            f.write(safetensors_bytes(part, dtype))
        for n, _ in part:
            weight_map[n] = fname
    with open(os.path.join(out_dir, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def _selfcheck():
    nxt = splitmix32_scalar(0xDEADBEEF)
    want = [nxt() for _ in range(1000)]
    got = splitmix32_block(0xDEADBEEF, 1000).astype(np.float64) / 4294967296.0
    assert list(got) == want, "vectorized splitmix32 disagrees with the scalar transcription"
    x = np.array([1.0, 1.00390625, 1.005859375, -1.0029296875, 3.0e-39, 65519.0], dtype=np.float32)
    assert [int(v) for v in bf16_bits(x)] == [0x3F80, 0x3F80, 0x3F81, 0xBF80, 0x0021, 0x4780]


if __name__ == "__main__":
    _selfcheck()
    cmd = sys.argv[1] if len(sys.argv) > 1 else "list"
    if cmd == "list":
        for fx in load_fixtures():
            n = sum(int(np.prod(s)) for _, s in tensor_specs(fx["config"]))
            print(f"{fx['name']:16s} {fx['config']['architectures'][0]:20s} {fx['dtype']:5s} shards={fx['shards']} params={n}")
    elif cmd == "checksums":
        print(json.dumps(weight_checksums(spec(sys.argv[2])), indent=1))
    elif cmd == "write":
        write_checkpoint(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
