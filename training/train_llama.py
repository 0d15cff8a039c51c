#!/usr/bin/env python3
"""Train a small LLaMA-architecture model on the storygen corpus and export it.

Runs on the GPU machine (PyTorch with CUDA). The model is exactly what the
runtime computes for GGUF `llama` files: token embedding, n_layers x
[RMSNorm -> attention with RoPE on adjacent pairs (2i, 2i+1) -> residual,
RMSNorm -> SwiGLU FFN -> residual], final RMSNorm, classifier tied to the
embedding; RMSNorm eps 1e-5, rope base 10000.

Inputs (from training/prepare_data.py, made on the CPU machine with the
project's own tokenizer):
  train.u16.xz   training stream (LZMA): BOS story EOS BOS story EOS ... (uint16 ids)
  heldout.u16    held-out stories in the same format
  ppl.u16        the held-out perplexity text tokenized as `webaccel perplexity`
                 sees it (one BOS, then plain text)
  ref.u16        reference sequences (n x ref_len ids) for the logits goldens

Outputs in --out:
  model.f16bin     weights for transport (see export_f16bin); `expand` turns it
                   into a llama2.c .bin (f32) for `webaccel convert`
  loss.csv         step, tokens, lr, train loss (mean over the logging
                   interval), held-out loss (at evaluations)
  summary.json     settings, parameter count, timings, final losses, PPL
  ref.bin          PyTorch reference logits (see write_reference)

Weights are rounded to float16 before the final evaluation and the export, so
the f32 GGUF, an f16 GGUF and the PyTorch reference all hold the same values.

The learning-rate schedule (linear warmup, cosine decay to lr/10) spans
--steps optimizer steps; with --time-limit and no --steps the script times the
first steps and picks the step count that fits the limit (the chosen number is
recorded in summary.json; pass it as --steps to reproduce the run).

Subcommand (standard library only, no PyTorch):
  train_llama.py expand model.f16bin model.bin   f16 transport -> llama2.c f32
"""

import argparse
import json
import lzma
import math
import os
import struct
import sys
import time

BOS, EOS = 1, 2


# ---------------------------------------------------------------------------
# Transport format: the llama2.c header (7 int32) followed by the same arrays
# as float16, without the freq_cis tables (the runtime recomputes RoPE).
# Half the size of the f32 .bin, which matters for the device's 16 MiB files.

def expand(src, dst):
    """f16bin -> llama2.c f32 .bin, standard library only."""
    with open(src, "rb") as f:
        header = f.read(28)
        dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack("<7i", header)
        payload = f.read()
    if len(payload) % 2:
        sys.exit("expand: odd payload size")
    n = len(payload) // 2
    # float16 -> float32 through a 65536-entry table of f32 byte strings.
    table = [struct.pack("<f", struct.unpack("<e", struct.pack("<H", h))[0]) for h in range(65536)]
    head = dim // n_heads
    kv_dim = head * n_kv
    n_before_freq = (vocab * dim + n_layers * (2 * dim + 2 * dim * dim + 2 * kv_dim * dim + 3 * hidden * dim) + dim)
    tied = vocab > 0
    expected = n_before_freq + (0 if tied else vocab * dim)
    if n != expected:
        sys.exit(f"expand: payload holds {n} values, header implies {expected}")
    halves = struct.unpack(f"<{n}H", payload)
    with open(dst, "wb") as f:
        f.write(header)
        f.write(b"".join(table[h] for h in halves[:n_before_freq]))
        f.write(bytes(4 * seq_len * head))  # freq_cis real + imag: unused by the runtime, zeros
        if not tied:
            f.write(b"".join(table[h] for h in halves[n_before_freq:]))


if len(sys.argv) > 1 and sys.argv[1] == "expand":
    if len(sys.argv) != 4:
        sys.exit("usage: train_llama.py expand IN.f16bin OUT.bin")
    expand(sys.argv[2], sys.argv[3])
    sys.exit(0)

import numpy as np  # noqa: E402  (GPU machine only)
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


# ---------------------------------------------------------------------------
# Model

class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)).to(x.dtype) * self.weight


def rope_tables(head_dim, seq_len, device, dtype=torch.float32):
    # theta_i = pos * 10000^(-2i/head_dim), applied to adjacent pairs (2i, 2i+1).
    inv = 1.0 / (10000.0 ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    ang = torch.outer(torch.arange(seq_len, dtype=torch.float64), inv)
    return ang.cos().to(device, dtype), ang.sin().to(device, dtype)


def apply_rope(x, cos, sin):
    # x: [B, H, T, D]; pairs (x[..., 2i], x[..., 2i+1]) rotate by the angle.
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[: x.shape[2]], sin[: x.shape[2]]
    r0 = x0 * c - x1 * s
    r1 = x0 * s + x1 * c
    return torch.stack((r0, r1), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        d, h, kv = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
        self.n_heads, self.n_kv, self.head_dim = h, kv, d // h
        self.attention_norm = RMSNorm(d)
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, kv * self.head_dim, bias=False)
        self.wv = nn.Linear(d, kv * self.head_dim, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.ffn_norm = RMSNorm(d)
        self.w1 = nn.Linear(d, cfg["hidden_dim"], bias=False)
        self.w2 = nn.Linear(cfg["hidden_dim"], d, bias=False)
        self.w3 = nn.Linear(d, cfg["hidden_dim"], bias=False)

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        h = self.attention_norm(x)
        q = self.wq(h).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.wk(h).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        v = self.wv(h).view(B, T, self.n_kv, self.head_dim).transpose(1, 2)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if self.n_kv != self.n_heads:
            rep = self.n_heads // self.n_kv
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.wo(a.transpose(1, 2).reshape(B, T, -1))
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.tok_embeddings = nn.Embedding(cfg["vocab_size"], cfg["dim"])
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg["n_layers"]))
        self.norm = RMSNorm(cfg["dim"])
        cos, sin = rope_tables(cfg["dim"] // cfg["n_heads"], cfg["seq_len"], "cpu")
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)
        self.apply(self._init)
        # Residual-branch outputs start smaller so the stream's scale does not grow with depth.
        for n, p in self.named_parameters():
            if n.endswith("wo.weight") or n.endswith("w2.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * cfg["n_layers"]))

    @staticmethod
    def _init(m):
        if isinstance(m, (nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)

    def forward(self, idx, cos=None, sin=None):
        x = self.tok_embeddings(idx)
        cos = self.cos if cos is None else cos
        sin = self.sin if sin is None else sin
        for layer in self.layers:
            x = layer(x, cos, sin)
        x = self.norm(x)
        return F.linear(x, self.tok_embeddings.weight)  # tied classifier


def n_params(model):
    return sum(p.numel() for p in model.parameters())


# ---------------------------------------------------------------------------
# Export

def llama2c_arrays(model):
    """Weights in llama2.c order (each layer's tensors stacked), as float32 numpy arrays."""
    L = model.layers
    g = lambda t: t.detach().float().cpu().numpy()  # noqa: E731
    out = [g(model.tok_embeddings.weight)]
    out.append(np.stack([g(l.attention_norm.weight) for l in L]))
    for name in ("wq", "wk", "wv", "wo"):
        out.append(np.stack([g(getattr(l, name).weight) for l in L]))  # [out, in] = llama2.c's [dim_out][dim_in]
    out.append(np.stack([g(l.ffn_norm.weight) for l in L]))
    for name in ("w1", "w2", "w3"):
        out.append(np.stack([g(getattr(l, name).weight) for l in L]))
    out.append(g(model.norm.weight))
    return out


def header(cfg):
    return struct.pack("<7i", cfg["dim"], cfg["hidden_dim"], cfg["n_layers"], cfg["n_heads"], cfg["n_kv_heads"],
                       cfg["vocab_size"], cfg["seq_len"])  # positive vocab: tied classifier


def export_f16bin(model, path):
    with open(path, "wb") as f:
        f.write(header(model.cfg))
        for a in llama2c_arrays(model):
            f.write(a.astype("<f2").tobytes())


# ---------------------------------------------------------------------------
# Evaluation

@torch.no_grad()
def logits_f64(model, ids):
    """Reference logits in float64 (the golden the runtime's f32 must match)."""
    m64 = Llama(model.cfg).to(ids.device)
    m64.load_state_dict(model.state_dict())
    m64 = m64.double()
    cos, sin = rope_tables(model.cfg["dim"] // model.cfg["n_heads"], model.cfg["seq_len"], ids.device, torch.float64)
    return m64(ids, cos, sin)


@torch.no_grad()
def heldout_loss(model, data, seq_len, max_windows=256, batch=64):
    """Mean next-token loss over non-overlapping windows of the held-out stream (f32, no autocast)."""
    n = min((len(data) - 1) // seq_len, max_windows)
    tot, cnt = 0.0, 0
    for s in range(0, n, batch):
        idx = torch.arange(s, min(n, s + batch), device=data.device) * seq_len
        rows = idx[:, None] + torch.arange(seq_len + 1, device=data.device)[None, :]
        w = data[rows]
        logits = model(w[:, :-1])
        tot += F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), w[:, 1:].reshape(-1),
                               reduction="sum").item()
        cnt += w[:, 1:].numel()
    return tot / cnt


@torch.no_grad()
def perplexity_like_webaccel(model, ids, n_ctx):
    """Perplexity as `webaccel perplexity` computes it: chunks of n_ctx tokens,
    each starting with BOS, scoring predictions of the second half only."""
    n_chunks = len(ids) // n_ctx
    first = n_ctx // 2
    nll, cnt = [], 0
    for c in range(n_chunks):
        chunk = ids[c * n_ctx:(c + 1) * n_ctx].clone()
        chunk[0] = BOS
        logits = model(chunk[None])[0].double()
        lp = torch.log_softmax(logits, -1)
        tgt = chunk[first + 1:]
        nll.append(-lp[first:n_ctx - 1].gather(1, tgt[:, None]).squeeze(1))
        cnt += len(tgt)
    v = torch.cat(nll)
    mean = v.mean().item()
    # Uncertainty of the mean NLL, carried to PPL (as llama.cpp reports it).
    err = (v.std().item() / math.sqrt(len(v))) if len(v) > 1 else 0.0
    return math.exp(mean), math.exp(mean) * err, n_chunks, cnt


def write_reference(path, model, ref_ids, corpus_counts, n_frequent=192, n_random=192, seed=1234):
    """Golden logits for tests/data, kept small: every position of each reference
    sequence, but only a fixed subset of vocabulary columns (the most frequent
    corpus tokens and a random sample of the rest) plus, per position over the
    FULL vocabulary, max |logit|, logsumexp and argmax.

    Layout (little-endian): b"WAREF1\\0\\0", int32 n_seq, seq_len, n_cols, n_vocab,
    int32 cols[n_cols], then per sequence: int32 tokens[seq_len],
    float32 maxabs[seq_len], float32 lse[seq_len], int32 argmax[seq_len],
    float32 logits[seq_len][n_cols]."""
    V = model.cfg["vocab_size"]
    freq = np.argsort(-corpus_counts, kind="stable")[:n_frequent]
    rest = np.setdiff1d(np.arange(V), freq)
    rnd = np.random.default_rng(seed).choice(rest, n_random, replace=False)
    cols = np.sort(np.concatenate([freq, rnd])).astype("<i4")
    lg = logits_f64(model, ref_ids)  # [n_seq, T, V] float64
    with open(path, "wb") as f:
        f.write(b"WAREF1\0\0")
        f.write(struct.pack("<4i", ref_ids.shape[0], ref_ids.shape[1], len(cols), V))
        f.write(cols.tobytes())
        for s in range(ref_ids.shape[0]):
            l = lg[s]
            f.write(ref_ids[s].cpu().numpy().astype("<i4").tobytes())
            f.write(l.abs().max(-1).values.cpu().numpy().astype("<f4").tobytes())
            f.write(torch.logsumexp(l, -1).cpu().numpy().astype("<f4").tobytes())
            f.write(l.argmax(-1).cpu().numpy().astype("<i4").tobytes())
            f.write(l[:, torch.from_numpy(cols).long().to(l.device)].cpu().numpy().astype("<f4").tobytes())


# ---------------------------------------------------------------------------

def main():
    p = argparse.ArgumentParser()
    p.add_argument("--data", required=True, help="folder with train.u16, heldout.u16, ppl.u16, ref.u16")
    p.add_argument("--out", required=True)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--hidden-dim", type=int, default=384)
    p.add_argument("--n-layers", type=int, default=6)
    p.add_argument("--n-heads", type=int, default=4)
    p.add_argument("--n-kv-heads", type=int, default=0, help="0: same as --n-heads")
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--vocab-size", type=int, default=32000)
    p.add_argument("--batch", type=int, default=64, help="sequences per optimizer step")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--weight-decay", type=float, default=0.1)
    p.add_argument("--warmup", type=int, default=200)
    p.add_argument("--steps", type=int, default=0, help="optimizer steps (0: fit --time-limit)")
    p.add_argument("--time-limit", type=float, default=300, help="seconds of training when --steps is 0")
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--log-every", type=int, default=25)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--ref-len", type=int, default=64)
    p.add_argument("--ppl-ctx", type=int, default=512)
    p.add_argument("--compile", action="store_true")
    args = p.parse_args()

    torch.manual_seed(args.seed)
    torch.backends.cuda.matmul.allow_tf32 = False  # evaluations in true f32; training uses bf16 autocast
    torch.backends.cudnn.allow_tf32 = False
    dev = "cuda"
    os.makedirs(args.out, exist_ok=True)
    load = lambda n: torch.from_numpy(np.fromfile(os.path.join(args.data, n), dtype="<u2").astype(np.int64))  # noqa
    with lzma.open(os.path.join(args.data, "train.u16.xz")) as f:
        train = torch.from_numpy(np.frombuffer(f.read(), dtype="<u2").astype(np.int64)).to(dev)
    held = load("heldout.u16").to(dev)
    ppl_ids = load("ppl.u16").to(dev)
    ref = load("ref.u16").view(-1, args.ref_len).to(dev)
    print(f"train {len(train)} tokens, heldout {len(held)}, ppl text {len(ppl_ids)}, ref {tuple(ref.shape)}", flush=True)

    cfg = dict(dim=args.dim, hidden_dim=args.hidden_dim, n_layers=args.n_layers, n_heads=args.n_heads,
               n_kv_heads=args.n_kv_heads or args.n_heads, vocab_size=args.vocab_size, seq_len=args.seq_len)
    model = Llama(cfg).to(dev)
    print(f"config {cfg}, {n_params(model)} parameters", flush=True)

    decay = [p_ for n, p_ in model.named_parameters() if p_.dim() >= 2]
    no_decay = [p_ for n, p_ in model.named_parameters() if p_.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95),
                            fused=True)
    fwd = model
    if args.compile:
        try:
            fwd = torch.compile(model)
        except Exception as e:  # fall back to eager; correctness over speed
            print(f"torch.compile unavailable ({e}); eager", flush=True)

    gen = torch.Generator(device=dev)
    gen.manual_seed(args.seed)
    ar = torch.arange(args.seq_len + 1, device=dev)

    def batch():
        off = torch.randint(0, len(train) - args.seq_len - 1, (args.batch,), device=dev, generator=gen)
        w = train[off[:, None] + ar[None, :]]
        return w[:, :-1], w[:, 1:]

    def lr_at(step, total):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        t = min(1.0, (step - args.warmup) / max(1, total - args.warmup))
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))

    def train_step(step, total):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, total)
        x, y = batch()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            logits = fwd(x)
        loss = F.cross_entropy(logits.float().view(-1, logits.shape[-1]), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss

    total = args.steps
    t0 = time.time()
    rows = []
    step = 0
    calib_at = 60
    while True:
        if total and step >= total:
            break
        loss = train_step(step, total or 10 ** 9)
        step += 1
        if not total and step == 20:
            torch.cuda.synchronize()
            t_calib = time.time()
        if not total and step == calib_at:
            torch.cuda.synchronize()
            per_step = (time.time() - t_calib) / (calib_at - 20)
            # Evaluations cost about 1% of the time; keep 3% slack.
            total = max(calib_at + 1, int((args.time_limit - (time.time() - t0)) / per_step * 0.97) + calib_at)
            print(f"{per_step * 1000:.1f} ms/step -> {total} steps", flush=True)
        if step % args.log_every == 0:
            row = dict(step=step, tokens=step * args.batch * args.seq_len, lr=lr_at(step - 1, total or 10 ** 9),
                       train_loss=loss.item(), heldout_loss="", elapsed_s=round(time.time() - t0, 1))
            if step % args.eval_every == 0:
                model.eval()
                row["heldout_loss"] = heldout_loss(model, held, args.seq_len, max_windows=64)
                model.train()
            rows.append(row)
            print(" ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items()), flush=True)
    torch.cuda.synchronize()
    train_s = time.time() - t0

    # Round to float16: every export and the references then hold identical values.
    with torch.no_grad():
        for p_ in model.parameters():
            p_.copy_(p_.half().float())
    model.eval()
    final_train = heldout_loss(model, train[: 256 * (args.seq_len + 1) + 1], args.seq_len, max_windows=256)
    final_held = heldout_loss(model, held, args.seq_len, max_windows=100000)
    ppl, ppl_err, n_chunks, n_scored = perplexity_like_webaccel(model, ppl_ids, args.ppl_ctx)
    rows.append(dict(step=step, tokens=step * args.batch * args.seq_len, lr=lr_at(step - 1, total), train_loss=final_train,
                     heldout_loss=final_held, elapsed_s=round(train_s, 1)))
    with open(os.path.join(args.out, "loss.csv"), "w") as f:
        f.write("step,tokens,lr,train_loss,heldout_loss,elapsed_s\n")
        for r in rows:
            f.write(",".join(str(r[k]) for k in ("step", "tokens", "lr", "train_loss", "heldout_loss", "elapsed_s")) + "\n")

    counts = np.bincount(train.cpu().numpy(), minlength=args.vocab_size).astype(np.int64)
    write_reference(os.path.join(args.out, "ref.bin"), model, ref, counts)
    export_f16bin(model, os.path.join(args.out, "model.f16bin"))

    summary = dict(config=cfg, params=n_params(model), steps=step, batch=args.batch, seq_len=args.seq_len,
                   tokens_seen=step * args.batch * args.seq_len, lr=args.lr, warmup=args.warmup,
                   weight_decay=args.weight_decay, seed=args.seed, train_seconds=round(train_s, 1),
                   train_tokens=len(train), final_train_loss=final_train, final_heldout_loss=final_held,
                   heldout_ppl_from_loss=math.exp(final_held), ppl_text=dict(ctx=args.ppl_ctx, chunks=n_chunks,
                   scored=n_scored, ppl=ppl, ppl_err=ppl_err), device=torch.cuda.get_device_name(),
                   torch=torch.__version__)
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(json.dumps(summary, indent=1), flush=True)


if __name__ == "__main__":
    main()
