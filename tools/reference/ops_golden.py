#!/usr/bin/env python3
"""Golden outputs for the runtime's ops, computed with numpy (and Python's math.erf),
independently of edgespec's code. Run once; the JSON is committed:

    python3 tools/reference/ops_golden.py > packages/runtime/test/golden/ops.json

(numpy >= 1.24; Debian: apt-get install python3-numpy, then /usr/bin/python3.)

Semantics follow the originals: Hugging Face for RoPE (float32 angles, llama3 scaling
computed in float32), BERT's erf GELU, ggml's quantize_row_q8_0_ref / q4_0_ref.
"""
import json
import math

import numpy as np

rs = np.random.RandomState(20261126)
f32 = np.float32


def arr(a):
    return [float(v) for v in np.asarray(a).reshape(-1)]


cases = {}

# ---- norms and activations (float64 math on float32 inputs) ----
x = rs.uniform(-4, 4, size=(3, 37)).astype(f32)
w = rs.uniform(0.5, 1.5, size=37).astype(f32)
b = rs.uniform(-1, 1, size=37).astype(f32)
xd = x.astype(np.float64)
rms = xd / np.sqrt((xd**2).mean(-1, keepdims=True) + 1e-6) * w
mu = xd.mean(-1, keepdims=True)
var = ((xd - mu) ** 2).mean(-1, keepdims=True)
ln = (xd - mu) / np.sqrt(var + 1e-12) * w + b
e = np.exp(xd * 3 - (xd * 3).max(-1, keepdims=True))
sm = e / e.sum(-1, keepdims=True)
silu = xd / (1 + np.exp(-xd))
gelu = np.array([0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in xd.reshape(-1)]).reshape(xd.shape)
gelu_tanh = 0.5 * xd * (1 + np.tanh(math.sqrt(2 / math.pi) * (xd + 0.044715 * xd**3)))
cases["rowops"] = dict(
    shape=[3, 37], x=arr(x), w=arr(w), b=arr(b),
    rmsnorm=arr(rms), layernorm=arr(ln), softmax_of_3x=arr(sm), silu=arr(silu), gelu=arr(gelu), gelu_tanh=arr(gelu_tanh),
)

# ---- RoPE, Hugging Face style ----
def hf_inv_freq(dim, base):
    exponent = np.arange(0, dim, 2, dtype=np.int64).astype(f32) / f32(dim)
    return (f32(1.0) / (f32(base) ** exponent).astype(f32)).astype(f32)


def hf_llama3(inv_freq, factor, low, high, old):
    inv_freq = inv_freq.astype(f32)
    low_wavelen = old / low
    high_wavelen = old / high
    wavelen = (f32(2 * math.pi) / inv_freq).astype(f32)
    inv_freq_llama = np.where(wavelen > low_wavelen, inv_freq / f32(factor), inv_freq).astype(f32)
    smooth = ((f32(old) / wavelen - f32(low)) / f32(high - low)).astype(f32)
    smoothed = ((f32(1) - smooth) * inv_freq_llama / f32(factor) + smooth * inv_freq_llama).astype(f32)
    medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
    return np.where(medium, smoothed, inv_freq_llama).astype(f32)


def rope(xh, pos, inv_freq, style, af):
    # xh [tok, heads, dim]; angles float32 as in HF; cos/sin of that float32 value, rounded to float32
    out = xh.astype(np.float64).copy()
    half = len(inv_freq)
    for t, p in enumerate(pos):
        theta = (f32(p) * inv_freq).astype(f32)
        c = (np.cos(theta.astype(np.float64)).astype(f32) * f32(af)).astype(f32).astype(np.float64)
        s = (np.sin(theta.astype(np.float64)).astype(f32) * f32(af)).astype(f32).astype(np.float64)
        for i in range(half):
            i0, i1 = (i, i + half) if style == "neox" else (2 * i, 2 * i + 1)
            x0 = xh[t, :, i0].astype(np.float64)
            x1 = xh[t, :, i1].astype(np.float64)
            out[t, :, i0] = x0 * c[i] - x1 * s[i]
            out[t, :, i1] = x1 * c[i] + x0 * s[i]
    return out


xr = rs.uniform(-1, 1, size=(3, 2, 16)).astype(f32)
pos = [0, 7, 12345]
inv_default = hf_inv_freq(16, 10000.0)
inv_llama3 = hf_llama3(hf_inv_freq(16, 500000.0), 8.0, 1.0, 4.0, 8192)
cases["rope"] = dict(
    shape=[3, 2, 16], x=arr(xr), positions=pos,
    inv_freq_default=arr(inv_default), inv_freq_llama3=arr(inv_llama3),
    neox_default=arr(rope(xr, pos, inv_default, "neox", 1.0)),
    interleaved_llama3=arr(rope(xr, pos, inv_llama3, "interleaved", 1.0)),
)

# ---- attention ----
nq, nh, nkv, d, cap, kvlen = 4, 4, 2, 8, 9, 7
q = rs.uniform(-1, 1, size=(nq, nh, d)).astype(f32)
k = rs.uniform(-1, 1, size=(nkv, cap, d)).astype(f32)
v = rs.uniform(-1, 1, size=(nkv, cap, d)).astype(f32)
parent = [-1, 0, 1, 0]
tree = np.zeros((nq, nq), dtype=np.uint8)
for i in range(nq):
    j = i
    while j >= 0:
        tree[i, j] = 1
        j = parent[j]


def attention(mask_kind):
    out = np.zeros((nq, nh, d))
    prefix = kvlen - nq
    for i in range(nq):
        for h in range(nh):
            kh = h // (nh // nkv)
            vis = [t for t in range(kvlen)
                   if not (mask_kind == "causal" and t > prefix + i)
                   and not (mask_kind == "tree" and t >= prefix and not tree[i, t - prefix])]
            sc = np.array([q[i, h].astype(np.float64) @ k[kh, t].astype(np.float64) / math.sqrt(d) for t in vis])
            p = np.exp(sc - sc.max())
            p /= p.sum()
            out[i, h] = sum(pj * v[kh, t].astype(np.float64) for pj, t in zip(p, vis))
    return out


cases["attention"] = dict(
    q_shape=[nq, nh, d], kv_shape=[nkv, cap, d], kv_len=kvlen, q=arr(q), k=arr(k), v=arr(v), tree=arr(tree),
    none=arr(attention("none")), causal=arr(attention("causal")), tree_out=arr(attention("tree")),
)

# ---- ggml quantizers and f16 ----
xq = rs.uniform(-3, 3, size=(2, 64)).astype(f32)
xq[0, :32] = 0


def q8_0(row):
    out = bytearray()
    for blk in row.reshape(-1, 32):
        amax = np.abs(blk).max()
        dd = f32(amax) / f32(127)
        idd = f32(1) / dd if dd != 0 else f32(0)
        out += np.array([dd], dtype=np.float16).tobytes()
        v = (blk * idd).astype(f32).astype(np.float64)
        qv = np.sign(v) * np.floor(np.abs(v) + 0.5)
        out += qv.astype(np.int8).tobytes()
    return out


def q4_0(row):
    out = bytearray()
    for blk in row.reshape(-1, 32):
        j = int(np.argmax(np.abs(blk)))  # first index of the largest |x|, like ggml's strict >
        mx = blk[j]
        dd = f32(mx) / f32(-8)
        idd = f32(1) / dd if dd != 0 else f32(0)
        out += np.array([dd], dtype=np.float16).tobytes()
        q = np.minimum(15, np.trunc((blk * idd).astype(f32) + f32(8.5)).astype(np.int32))
        out += (q[:16] | (q[16:] << 4)).astype(np.uint8).tobytes()
    return out


cases["quant"] = dict(
    shape=[2, 64], x=arr(xq),
    q8_0=list(q8_0(xq)), q4_0=list(q4_0(xq)),
    f16=[int(v) for v in xq.astype(np.float16).view(np.uint16).reshape(-1)],
)

# ---- matmul with q8_0 weights: exact float64 dot with the dequantized weights ----
wq = rs.uniform(-1, 1, size=(8, 64)).astype(f32)
xm = rs.uniform(-1, 1, size=(2, 64)).astype(f32)
raw = q8_0(wq)
deq = []
for bi in range(len(raw) // 34):
    blk = raw[bi * 34:(bi + 1) * 34]
    dd = np.frombuffer(bytes(blk[:2]), dtype=np.float16)[0].astype(np.float64)
    deq += list(dd * np.frombuffer(bytes(blk[2:]), dtype=np.int8).astype(np.float64))
deq = np.array(deq).reshape(8, 64)
cases["matmul_q8_0"] = dict(w_shape=[8, 64], w_q8_0=list(raw), x_shape=[2, 64], x=arr(xm), y=arr(xm.astype(np.float64) @ deq.T))

print(json.dumps(cases, separators=(",", ":")))
