#!/usr/bin/env python3
"""FastDraft step 2: distil TinyStories-656K into a tiny Llama drafter with its tokenizer.

FastDraft (Intel, 2024) pre-trains a small drafter and aligns it to the target by training
on text the target generated. Here the corpus is already the target's (gen-corpus.mjs),
and the loss is the target's whole next-token distribution at every position (soft labels,
forward KL, the target run alongside in the same script), which transfers more than the
sampled tokens alone. The drafter shares the target's 2048-token vocabulary and tied
embedding/head, initialised from the target's embedding projected on its top principal
directions.

Plain torch (Debian's python3-torch; no pip packages): the Llama forward is written out
here with Hugging Face semantics (RMSNorm, rotate-half RoPE, GQA, SwiGLU), and the weights
are read and written as safetensors by hand (8-byte header length, JSON header, raw
little-endian F32).

  /usr/bin/python3 tools/fastdraft/train.py [--minutes 9] [--out packages/drafters/weights/fastdraft-tinystories]
"""

import argparse
import json
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))


# ----------------------------------------------------------------------------- safetensors


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    base = 8 + n
    kinds = {"F32": "<f4", "F16": "<f2"}
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        b, end = e["data_offsets"]
        if e["dtype"] == "BF16":
            raw = np.frombuffer(data[base + b : base + end], dtype="<u2").astype(np.uint32) << 16
            arr = raw.view(np.float32)
        else:
            arr = np.frombuffer(data[base + b : base + end], dtype=kinds[e["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(arr.reshape(e["shape"]).copy())
    return out


def write_safetensors(path, tensors, metadata):
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        a = np.ascontiguousarray(tensors[name].detach().cpu().numpy().astype("<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)  # the data starts 8-aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


# ----------------------------------------------------------------------------- the Llama forward


def config_from_hf(cfg):
    heads = cfg["num_attention_heads"]
    return {
        "hidden": cfg["hidden_size"],
        "inter": cfg["intermediate_size"],
        "layers": cfg["num_hidden_layers"],
        "heads": heads,
        "kv": cfg.get("num_key_value_heads", heads),
        "head_dim": cfg.get("head_dim") or cfg["hidden_size"] // heads,
        "vocab": cfg["vocab_size"],
        "eps": cfg.get("rms_norm_eps", 1e-6),
        "theta": cfg.get("rope_theta", 10000.0),
    }


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rope_tables(head_dim, theta, T):
    inv = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.arange(T, dtype=torch.float32)[:, None] * inv[None, :]
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], dim=-1)


def forward(W, c, ids):
    """logits [B, T, vocab] of a Llama with weights W (HF names) and config c."""
    B, T = ids.shape
    x = W["model.embed_tokens.weight"][ids]
    cos, sin = rope_tables(c["head_dim"], c["theta"], T)
    H, KV, D = c["heads"], c["kv"], c["head_dim"]
    G = H // KV
    # query heads grouped by the K/V head they share (HF: query head h uses K/V head h // G), so
    # attention is one batched matmul per (sequence, K/V head) over G·T query rows
    mask = torch.full((T, T), float("-inf")).triu(1).repeat(G, 1)
    for l in range(c["layers"]):
        p = f"model.layers.{l}."
        h = rms_norm(x, W[p + "input_layernorm.weight"], c["eps"])
        q = (h @ W[p + "self_attn.q_proj.weight"].T).view(B, T, KV, G, D).permute(0, 2, 3, 1, 4)
        k = (h @ W[p + "self_attn.k_proj.weight"].T).view(B, T, KV, D).transpose(1, 2)
        v = (h @ W[p + "self_attn.v_proj.weight"].T).view(B, T, KV, D).transpose(1, 2)
        q = (q * cos + rotate_half(q) * sin).reshape(B * KV, G * T, D)
        k = (k * cos + rotate_half(k) * sin).reshape(B * KV, T, D)
        scores = torch.baddbmm(mask, q, k.transpose(1, 2), alpha=1.0 / math.sqrt(D))
        att = torch.bmm(torch.softmax(scores, dim=-1), v.reshape(B * KV, T, D))
        att = att.view(B, KV, G, T, D).permute(0, 3, 1, 2, 4).reshape(B, T, H * D)
        x = x + att @ W[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, W[p + "post_attention_layernorm.weight"], c["eps"])
        x = x + (F.silu(h @ W[p + "mlp.gate_proj.weight"].T) * (h @ W[p + "mlp.up_proj.weight"].T)) @ W[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, W["model.norm.weight"], c["eps"])
    head = W.get("lm_head.weight", W["model.embed_tokens.weight"])
    return x @ head.T


# ----------------------------------------------------------------------------- the drafter


def init_student(c, teacher_embed, gen):
    hidden, inter, kvdim = c["hidden"], c["inter"], c["kv"] * c["head_dim"]
    qdim = c["heads"] * c["head_dim"]

    def normal(*shape, std=0.02):
        return (torch.randn(*shape, generator=gen) * std).requires_grad_()

    # the tied embedding: the teacher's rows on their top `hidden` principal directions
    e = teacher_embed - teacher_embed.mean(0, keepdim=True)
    _, _, v = torch.linalg.svd(e, full_matrices=False)
    emb = teacher_embed @ v[:hidden].T
    emb = emb * (0.5 / emb.norm(dim=1).mean())  # rows of norm ~0.5: logits start mild
    W = {"model.embed_tokens.weight": emb.clone().requires_grad_(), "model.norm.weight": torch.ones(hidden, requires_grad=True)}
    out_std = 0.02 / math.sqrt(2 * c["layers"])
    for l in range(c["layers"]):
        p = f"model.layers.{l}."
        W[p + "input_layernorm.weight"] = torch.ones(hidden, requires_grad=True)
        W[p + "post_attention_layernorm.weight"] = torch.ones(hidden, requires_grad=True)
        W[p + "self_attn.q_proj.weight"] = normal(qdim, hidden)
        W[p + "self_attn.k_proj.weight"] = normal(kvdim, hidden)
        W[p + "self_attn.v_proj.weight"] = normal(kvdim, hidden)
        W[p + "self_attn.o_proj.weight"] = normal(hidden, qdim, std=out_std)
        W[p + "mlp.gate_proj.weight"] = normal(inter, hidden)
        W[p + "mlp.up_proj.weight"] = normal(inter, hidden)
        W[p + "mlp.down_proj.weight"] = normal(hidden, inter, std=out_std)
    return W


def batches(data, starts, batch, T, gen):
    """windows of T + 1 tokens starting at story starts (BOS), as the drafter sees them at run time"""
    idx = torch.randint(len(starts), (batch,), generator=gen)
    rows = [data[s : s + T + 1] for s in starts[idx].tolist()]
    return torch.from_numpy(np.stack(rows).astype(np.int64))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--corpus", default=os.path.join(HERE, ".data", "corpus.u16"))
    ap.add_argument("--teacher", default=os.path.join(ROOT, "..", "shared", "models", "tinystories-656k"))
    ap.add_argument("--out", default=os.path.join(ROOT, "packages", "drafters", "weights", "fastdraft-tinystories"))
    ap.add_argument("--minutes", type=float, default=9.0, help="wall-clock training budget")
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=2)
    ap.add_argument("--inter", type=int, default=192)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)

    with open(os.path.join(args.teacher, "config.json")) as f:
        tcfg_hf = json.load(f)
    tc = config_from_hf(tcfg_hf)
    teacher = read_safetensors(os.path.join(args.teacher, "model.safetensors"))
    # tied checkpoints may store only lm_head (the metadata aliases the embedding to it)
    if "model.embed_tokens.weight" not in teacher:
        teacher["model.embed_tokens.weight"] = teacher["lm_head.weight"]
    for t in teacher.values():
        t.requires_grad_(False)

    data = np.fromfile(args.corpus, dtype="<u2")
    bos = int(tcfg_hf.get("bos_token_id", 1))
    starts = np.nonzero(data == bos)[0]
    starts = starts[starts + args.seq + 1 <= len(data)]
    n_val = max(16, len(starts) // 50)
    val_starts, train_starts = starts[-n_val:], starts[:-n_val]
    cut = int(val_starts[0])
    train_starts = train_starts[train_starts + args.seq + 1 <= cut]  # no window reaches the held-out stories
    print(f"corpus: {len(data)} tokens, {len(starts)} stories ({len(train_starts)} train windows, {n_val} held out)", flush=True)

    # the teacher, checked: its greedy continuation of "Once upon a time" (compare with `edgespec generate --temperature 0`)
    with torch.no_grad():
        ids = [1, 80, 147, 201, 282, 57]
        for _ in range(12):
            ids.append(int(forward(teacher, tc, torch.tensor([ids]))[0, -1].argmax()))
    print("teacher greedy after 'Once upon a time':", ids[6:], flush=True)

    sc = {
        "hidden": args.hidden,
        "inter": args.inter,
        "layers": args.layers,
        "heads": args.heads,
        "kv": args.kv_heads,
        "head_dim": args.hidden // args.heads,
        "vocab": tc["vocab"],
        "eps": tc["eps"],
        "theta": tc["theta"],
    }
    W = init_student(sc, teacher["model.embed_tokens.weight"], gen)
    params = list(W.values())
    n_params = sum(p.numel() for p in params)
    print(f"drafter: {sc}, {n_params} parameters", flush=True)
    decay = [p for p in params if p.dim() == 2]
    no_decay = [p for p in params if p.dim() == 1]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))

    def loss_of(batch):
        x = batch[:, :-1]
        with torch.no_grad():
            pt = torch.softmax(forward(teacher, tc, x), dim=-1).reshape(-1, tc["vocab"])
        logits = forward(W, sc, x).reshape(-1, tc["vocab"])
        # cross-entropy to the teacher's whole distribution = KL(teacher ‖ drafter) + the teacher's entropy
        return F.cross_entropy(logits, pt), pt, logits

    @torch.no_grad()
    def evaluate():
        vg = torch.Generator().manual_seed(1234)
        tot = {"kl": 0.0, "agree": 0.0, "ce": 0.0}
        n = 0
        for _ in range(4):
            b = batches(data, val_starts, 16, args.seq, vg)
            soft, pt, logits = loss_of(b)
            ent = -(pt * torch.log(pt.clamp_min(1e-30))).sum(-1).mean()
            tot["kl"] += float(soft - ent)
            tot["agree"] += float((pt.argmax(-1) == logits.argmax(-1)).float().mean())
            tot["ce"] += float(F.cross_entropy(logits, b[:, 1:].reshape(-1)))
            n += 1
        return {k: v / n for k, v in tot.items()}

    budget = args.minutes * 60
    t0 = time.time()
    step = 0
    total = None
    warmup = 50
    last = None
    log = []
    while True:
        elapsed = time.time() - t0
        if total is None and step == 20:
            total = max(100, int(budget / (elapsed / 20)) - 10)  # steps that fit the budget (an evaluation or two included)
            print(f"{elapsed / 20:.2f} s/step → {total} steps", flush=True)
        if total is not None and step >= total:
            break
        if elapsed > budget:
            break
        horizon = total or 10**9
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, step / horizon))))
        for g in opt.param_groups:
            g["lr"] = lr
        soft, _, _ = loss_of(batches(data, train_starts, args.batch, args.seq, gen))
        opt.zero_grad()
        soft.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        last = float(soft)
        step += 1
        if step % 100 == 0:
            print(f"step {step} loss {last:.4f} lr {lr:.2e} {time.time() - t0:.0f} s", flush=True)
    train_s = time.time() - t0
    final = evaluate()
    print(f"done: {step} steps in {train_s:.0f} s, last train loss {last:.4f}; held out: KL(target‖drafter) {final['kl']:.4f}, argmax agreement {final['agree']:.4f}, CE on the sampled tokens {final['ce']:.4f}", flush=True)
    log.append({"steps": step, "seconds": round(train_s, 1), "train_soft_ce": round(last, 4), **{k: round(v, 4) for k, v in final.items()}})

    os.makedirs(args.out, exist_ok=True)
    hf = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": sc["hidden"],
        "intermediate_size": sc["inter"],
        "num_hidden_layers": sc["layers"],
        "num_attention_heads": sc["heads"],
        "num_key_value_heads": sc["kv"],
        "vocab_size": sc["vocab"],
        "max_position_embeddings": tcfg_hf.get("max_position_embeddings", 512),
        "rms_norm_eps": sc["eps"],
        "rope_theta": sc["theta"],
        "rope_scaling": None,
        "hidden_act": "silu",
        "attention_bias": False,
        "mlp_bias": False,
        "tie_word_embeddings": True,
        "bos_token_id": tcfg_hf.get("bos_token_id", 1),
        "eos_token_id": tcfg_hf.get("eos_token_id", 2),
        "torch_dtype": "float32",
    }
    with open(os.path.join(args.out, "config.json"), "w") as f:
        # numbers as the repository's formatter writes them (1e-6, not 1e-06)
        f.write(json.dumps(hf, indent=2).replace("e-06", "e-6") + "\n")
    meta = {"format": "pt", "distilled_from": "raincandy-u/TinyStories-656K", "recipe": "tools/fastdraft", **log[-1]}
    write_safetensors(os.path.join(args.out, "model.safetensors"), W, meta)
    size = os.path.getsize(os.path.join(args.out, "model.safetensors"))
    print(f"wrote {args.out}: config.json, model.safetensors ({size} bytes)", flush=True)


if __name__ == "__main__":
    main()
