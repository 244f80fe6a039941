#!/usr/bin/python3
"""Train droidspeak's bundled model family and write its reference fixtures.

Run with Debian's own interpreter (``/usr/bin/python3``) after
``tools/setup_training.sh``; it needs python3-torch, python3-numpy and
libopenblas0-openmp (without the latter Debian's torch uses the reference BLAS
and trains more than ten times slower).

The family (all byte-level, vocabulary 256, Llama architecture, 12 layers,
hidden 192, 4 query heads, 2 KV heads of head_dim 48, SwiGLU 512):

  base            trained from scratch on general prose (Austen + Python docs)
  ft-code         full fine-tune of base on C headers
  ft-scripture    full fine-tune of base on the King James Bible
  lora-scripture  LoRA (rank 8 on q,k,v,o,gate,up,down) fine-tune of base on
                  the Bible, merged into the weights
  frozen-code     fine-tune of base on C headers with the embeddings and layers
                  0..5 frozen: those tensors are bit-identical to base

Every fine-tune starts from the f16-rounded base weights (the committed file).

Held-out split (documented in every model card and examples/data/README.md):
  * Austen: the last 5% of the bytes of each of the six novels;
  * Python reST sources and C headers: every 20th file in sorted path order
    (index % 20 == 19);
  * King James Bible: every 20th book in canonical order (Proverbs, Matthew,
    1 Peter).

  ft-recall       task fine-tune of base on the retrieval task of tools/recall_task.py
                  (look a #define's value up by its name); base never sees the task

Usage (the real run):
  nohup nice -n 19 /usr/bin/python3 tools/train_family.py --base-steps N --ft-steps M \
      > /tmp/train.log 2>&1 &
Training is resumable: every --checkpoint-every seconds each model's state goes to
--state-dir (train-state/: the full state in <name>.pt, ignored by git; the f16 weights and
the step in <name>.f16.safetensors + <name>.json, small enough to commit). Run the same
command again, in this session or the next, and it continues where it stopped; a checkpoint
made with other hyper-parameters is refused. --stages trains only some models (e.g. `base`
alone, over several sessions, into --out train-state/models so the bundled family stays
consistent); --base-init starts base from committed weights instead of a random init.
On a GPU machine: tools/gpu_train.sh (packs nothing itself: see its header).
A smoke test: --smoke (3 steps per model, small evaluation, output in /tmp).
Throughput only: --bench 5.
"""

import argparse
import glob
import hashlib
import json
import math
import os
import re
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import recall_task

# ----------------------------------------------------------------------------
# Geometry (fixed by the issue)
# ----------------------------------------------------------------------------
VOCAB = 256
HIDDEN = 192
LAYERS = 12
HEADS = 4
KV_HEADS = 2
HEAD_DIM = 48
INTER = 512
EPS = 1e-5
THETA = 10000.0
WINDOW = 256
FROZEN_LAYERS = 6  # layers 0..5 (plus the embeddings) frozen in frozen-code

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

PACKAGES = {
    "austen": ("r-cran-janeaustenr", "r-cran-janeaustenr: MIT (Julia Silge, 2016-2017); the novels "
               "themselves are in the public domain"),
    "pydocs": ("python3.11-doc", "python3.11-doc: Python Software Foundation License (PSF-2.0), see "
               "/usr/share/doc/python3.11-doc/copyright"),
    "code": ("libc6-dev, linux-libc-dev",
             "libc6-dev: LGPL-2.1+ (GNU C Library, some files under other free licences); "
             "linux-libc-dev: GPL-2 (Linux UAPI headers, with the Linux-syscall-note)"),
    "scripture": ("bible-kjv-text (read with the `bible` program of bible-kjv)",
                  "bible-kjv-text: King James Version text in the public domain (copyright "
                  "expired); packaging GPL-2+"),
}


def log(msg):
    line = time.strftime("%H:%M:%S ") + msg
    print(line, flush=True)
    if LOGFILE:
        with open(LOGFILE, "a") as f:
            f.write(line + "\n")


LOGFILE = None

# ----------------------------------------------------------------------------
# Corpora
# ----------------------------------------------------------------------------


def extract_austen(cache):
    d = os.path.join(cache, "austen")
    done = os.path.join(d, ".done")
    if not os.path.exists(done):
        os.makedirs(d, exist_ok=True)
        r = ("library(janeaustenr); b <- austen_books(); bks <- levels(b$book); "
             "for (i in seq_along(bks)) { "
             "con <- file(file.path('%s', sprintf('%%d.txt', i)), 'wb'); "
             "writeLines(as.character(b$text[b$book == bks[i]]), con, useBytes=TRUE); close(con) }; "
             "writeLines(bks, file.path('%s', 'titles'))" % (d, d))
        subprocess.run(["Rscript", "-e", r], check=True)
        open(done, "w").close()
    titles = open(os.path.join(d, "titles")).read().splitlines()
    docs = []
    for i, t in enumerate(titles):
        data = open(os.path.join(d, "%d.txt" % (i + 1)), "rb").read()
        docs.append((t, data))
    return docs


def extract_bible(cache):
    path = os.path.join(cache, "kjv.txt")
    if not os.path.exists(path):
        os.makedirs(cache, exist_ok=True)
        out = subprocess.run(["bible", "-l10000", "Gen1:1-Rev22:21"], check=True,
                             stdout=subprocess.PIPE).stdout
        with open(path + ".tmp", "wb") as f:
            f.write(out)
        os.replace(path + ".tmp", path)
    text = open(path, "rb").read().decode("utf-8")
    books = []  # [(name, [lines])]
    for line in text.split("\n"):
        if line and not line.startswith(" "):
            name = line.rsplit(" ", 1)[0]
            if not books or books[-1][0] != name:
                books.append((name, []))
        if books:
            books[-1][1].append(line)
    docs = [(n, ("\n".join(ls).strip("\n") + "\n").encode()) for n, ls in books]
    if len(docs) != 66:
        raise SystemExit("expected 66 books of the Bible, parsed %d" % len(docs))
    return docs


def read_files(paths):
    docs = []
    for p in paths:
        with open(p, "rb") as f:
            data = f.read()
        if data:
            docs.append((p, data))
    return docs


def code_paths():
    out = subprocess.run(["dpkg", "-L", "libc6-dev", "linux-libc-dev"], check=True,
                         stdout=subprocess.PIPE).stdout.decode()
    paths = sorted({p for p in out.split("\n")
                    if p.startswith("/usr/include/") and p.endswith(".h")
                    and os.path.isfile(p) and not os.path.islink(p)})
    return paths


def split_every_20th(docs):
    train, val = [], []
    for i, d in enumerate(docs):
        (val if i % 20 == 19 else train).append(d)
    return train, val


def split_tail(docs, frac=0.05):
    train, val = [], []
    for name, data in docs:
        cut = int(len(data) * (1 - frac))
        # cut at a line start so both halves are clean text
        nl = data.find(b"\n", cut)
        cut = nl + 1 if nl >= 0 else cut
        train.append((name, data[:cut]))
        val.append((name, data[cut:]))
    return train, val


def load_corpora(cache):
    t0 = time.time()
    austen = extract_austen(cache)
    pyd = read_files(sorted(glob.glob("/usr/share/doc/python3.11/html/_sources/**/*.txt",
                                      recursive=True)))
    code = read_files(code_paths())
    bible = extract_bible(cache)
    sources = {}
    sources["austen"] = split_tail(austen)
    sources["pydocs"] = split_every_20th(pyd)
    sources["code"] = split_every_20th(code)
    sources["scripture"] = split_every_20th(bible)
    for k, (tr, va) in sources.items():
        log("corpus %-9s train %4d docs %9d bytes | val %3d docs %8d bytes" % (
            k, len(tr), sum(len(d) for _, d in tr), len(va), sum(len(d) for _, d in va)))
    log("corpora loaded in %.1fs" % (time.time() - t0))
    return sources


def save_corpora(path, sources):
    """Writes the loaded, split corpora to one gzip'd pickle, so that a machine without the
    Debian packages (the GPU machine) trains on exactly the same text (--corpora PATH)."""
    import gzip
    import pickle
    with gzip.open(path + ".tmp", "wb", compresslevel=6) as f:
        pickle.dump(sources, f, protocol=4)
    os.replace(path + ".tmp", path)


def load_corpora_pack(path):
    import gzip
    import pickle
    with gzip.open(path, "rb") as f:
        sources = pickle.load(f)
    for k, (tr, va) in sources.items():
        log("corpus %-9s train %4d docs %9d bytes | val %3d docs %8d bytes (from %s)" % (
            k, len(tr), sum(len(d) for _, d in tr), len(va), sum(len(d) for _, d in va), path))
    return sources


def stream(docs):
    return np.frombuffer(b"\n\n".join(d for _, d in docs), dtype=np.uint8)


class Mixture:
    """Random training windows from one or more streams (equal weight per stream)."""

    def __init__(self, streams, seed):
        self.streams = [torch.from_numpy(s.astype(np.int64)) for s in streams]
        self.rng = np.random.RandomState(seed)

    def batch(self, bsz):
        xs = []
        for b in range(bsz):
            s = self.streams[b % len(self.streams)] if len(self.streams) > 1 else self.streams[0]
            i = self.rng.randint(0, len(s) - WINDOW - 1)
            xs.append(s[i:i + WINDOW + 1])
        x = torch.stack(xs)
        return x[:, :-1], x[:, 1:]


# ----------------------------------------------------------------------------
# Model (HF LlamaForCausalLM math and tensor names)
# ----------------------------------------------------------------------------


class RMSNorm(nn.Module):
    def __init__(self, n):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))

    def forward(self, x):
        dt = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)
        return self.weight * x.to(dt)


def rope_cos_sin(T, device=None):
    inv = 1.0 / (THETA ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.int64).float() / HEAD_DIM))
    pos = torch.arange(T, dtype=torch.int64).float()
    freqs = torch.outer(pos, inv)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(x):
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class LoRALinear(nn.Module):
    def __init__(self, base, r, alpha, gen):
        super().__init__()
        self.base = base
        self.base.weight.requires_grad_(False)
        self.r, self.scale = r, alpha / r
        self.A = nn.Parameter(torch.empty(r, base.in_features))
        self.B = nn.Parameter(torch.zeros(base.out_features, r))
        with torch.no_grad():
            bound = 1 / math.sqrt(base.in_features)
            self.A.copy_((torch.rand(r, base.in_features, generator=gen) * 2 - 1) * bound)

    def forward(self, x):
        return self.base(x) + (x @ self.A.t() @ self.B.t()) * self.scale

    def merged(self):
        return self.base.weight + self.scale * (self.B @ self.A)


class Attention(nn.Module):
    def __init__(self):
        super().__init__()
        self.q_proj = nn.Linear(HIDDEN, HEADS * HEAD_DIM, bias=False)
        self.k_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.v_proj = nn.Linear(HIDDEN, KV_HEADS * HEAD_DIM, bias=False)
        self.o_proj = nn.Linear(HEADS * HEAD_DIM, HIDDEN, bias=False)

    def forward(self, x, cos, sin, mask, capture=None):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, HEADS, HEAD_DIM).transpose(1, 2)
        k = self.k_proj(x).view(B, T, KV_HEADS, HEAD_DIM).transpose(1, 2)
        v = self.v_proj(x).view(B, T, KV_HEADS, HEAD_DIM).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if capture is not None:
            capture.append((k, v))
        rep = HEADS // KV_HEADS  # HF repeat_kv: query head h uses kv head h // rep
        k = k[:, :, None].expand(B, KV_HEADS, rep, T, HEAD_DIM).reshape(B, HEADS, T, HEAD_DIM)
        v = v[:, :, None].expand(B, KV_HEADS, rep, T, HEAD_DIM).reshape(B, HEADS, T, HEAD_DIM)
        if mask is None and hasattr(F, "scaled_dot_product_attention"):
            # training and evaluation on torch >= 2: the fused causal kernel, same math
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            if mask is None:
                mask = torch.full((T, T), float("-inf"), device=x.device).triu(1)  # fixtures: the score matrix written out, as HF's eager attention does
            s = (q @ k.transpose(2, 3)) / math.sqrt(HEAD_DIM) + mask
            p = torch.softmax(s.float(), dim=-1).to(q.dtype)
            o = p @ v
        o = o.transpose(1, 2).reshape(B, T, HEADS * HEAD_DIM)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.gate_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.up_proj = nn.Linear(HIDDEN, INTER, bias=False)
        self.down_proj = nn.Linear(INTER, HIDDEN, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.input_layernorm = RMSNorm(HIDDEN)
        self.self_attn = Attention()
        self.post_attention_layernorm = RMSNorm(HIDDEN)
        self.mlp = MLP()

    def forward(self, h, cos, sin, mask, capture=None):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin, mask, capture)
        return h + self.mlp(self.post_attention_layernorm(h))


class Inner(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed_tokens = nn.Embedding(VOCAB, HIDDEN)
        self.layers = nn.ModuleList([Layer() for _ in range(LAYERS)])
        self.norm = RMSNorm(HIDDEN)


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = Inner()
        self.lm_head = nn.Linear(HIDDEN, VOCAB, bias=False)

    def forward(self, ids, hidden_capture=None, kv_capture=None):
        T = ids.shape[1]
        cos, sin = (t.to(ids.device) for t in rope_cos_sin(T))
        mask = None
        if hidden_capture is not None or kv_capture is not None:
            mask = torch.full((T, T), float("-inf"), device=ids.device).triu(1)
        h = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            if hidden_capture is not None:
                hidden_capture.append(h)
            h = layer(h, cos, sin, mask, kv_capture)
        return self.lm_head(self.model.norm(h))


def init_weights(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                p.fill_(1.0)
            else:
                std = 0.02
                if name.endswith("o_proj.weight") or name.endswith("down_proj.weight"):
                    std = 0.02 / math.sqrt(2 * LAYERS)
                p.copy_(torch.randn(p.shape, generator=g) * std)


def state(model):
    return {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}


def f16_round(sd):
    return {k: v.to(torch.float16).to(torch.float32) for k, v in sd.items()}


# ----------------------------------------------------------------------------
# safetensors (written and read by hand)
# ----------------------------------------------------------------------------
DT = {torch.float16: "F16", torch.float32: "F32", torch.int32: "I32"}
NP = {"F16": np.float16, "F32": np.float32, "I32": np.int32}


def save_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        b = t.numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = {"format": "pt"}
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * ((8 - len(hj) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors_raw(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, h in header.items():
        if name == "__metadata__":
            continue
        a, b = h["data_offsets"]
        out[name] = (h["dtype"], h["shape"], data[base + a:base + b])
    end = max(h["data_offsets"][1] for k, h in header.items() if k != "__metadata__")
    if base + end != len(data):
        raise SystemExit("%s: trailing bytes or truncated" % path)
    return out


def load_safetensors(path):
    out = {}
    for name, (dt, shape, raw) in load_safetensors_raw(path).items():
        arr = np.frombuffer(raw, dtype=NP[dt]).reshape(shape)
        out[name] = torch.from_numpy(arr.copy())
    return out


# ----------------------------------------------------------------------------
# Training / evaluation
# ----------------------------------------------------------------------------


def lr_at(step, steps, peak):
    warm = max(1, int(0.05 * steps))
    if step < warm:
        return peak * (step + 1) / warm
    p = (step - warm) / max(1, steps - warm)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))


class Checkpoints:
    """Where a model's training state lives between sessions (a session is 180 minutes on two
    cores, so one model's training may span several):

      <dir>/<name>.pt               full state: weights, AdamW moments, step, data and torch
                                    RNG states (large; ignored by git)
      <dir>/<name>.f16.safetensors  the weights in f16 and
      <dir>/<name>.json             step, loss EMA, seconds so far, hyper-parameters
                                    (small; meant to be committed)

    train() resumes from the .pt when it exists; otherwise from the committed f16 weights,
    with fresh AdamW moments and a fresh data stream (the log says so). A checkpoint whose
    hyper-parameters differ from this run's is refused, never silently mixed."""

    def __init__(self, directory, every_s):
        self.dir, self.every_s = directory, every_s
        if directory:
            os.makedirs(directory, exist_ok=True)

    def paths(self, name):
        b = os.path.join(self.dir, name)
        return b + ".pt", b + ".f16.safetensors", b + ".json"

    def save(self, name, meta, model, opt, data):
        if not self.dir:
            return
        pt, f16, js = self.paths(name)
        full = {"meta": meta, "model": model.state_dict(), "opt": opt.state_dict(),
                "data_rng": data.rng.get_state(), "torch_rng": torch.get_rng_state()}
        torch.save(full, pt + ".tmp")
        os.replace(pt + ".tmp", pt)
        save_safetensors(f16, {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()})
        with open(js + ".tmp", "w") as f:
            json.dump(meta, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(js + ".tmp", js)

    def load(self, name, expect, model, opt, data):
        """Restores a checkpoint made with the same hyper-parameters; returns its meta or None."""
        if not self.dir:
            return None
        pt, f16, js = self.paths(name)
        if not os.path.exists(js):
            return None
        meta = json.load(open(js))
        for k, v in expect.items():
            if meta.get(k) != v:
                raise SystemExit("%s: checkpoint %s has %s=%r, this run %r; move it away to start "
                                 "over" % (name, js, k, meta.get(k), v))
        if os.path.exists(pt):
            full = torch.load(pt, map_location=next(model.parameters()).device, weights_only=False)
            if full["meta"]["step"] == meta["step"]:
                model.load_state_dict(full["model"])
                opt.load_state_dict(full["opt"])
                data.rng.set_state(full["data_rng"])
                torch.set_rng_state(full["torch_rng"])
                log("%s: resumed the full state at step %d from %s" % (name, meta["step"], pt))
                return meta
        sd = load_safetensors(f16)
        dev = next(model.parameters()).device
        model.load_state_dict({k: v.float().to(dev) for k, v in sd.items()})
        data.rng = np.random.RandomState(expect["seed"] + 7919 * meta["step"])
        log("%s: resumed the committed f16 weights at step %d from %s (fresh AdamW moments and "
            "data stream)" % (name, meta["step"], f16))
        return meta


STOP = []  # set by SIGTERM/SIGINT: train() checkpoints after the current step and exits


def stop_on_signal():
    """SIGTERM or SIGINT (kill, Ctrl-C) lets the running step finish, writes a checkpoint and
    exits with status 3, so a run stopped at the end of a session loses no steps."""
    import signal

    def handler(signum, frame):
        log("signal %d: stopping after this step" % signum)
        STOP.append(signum)
    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def train(model, params, data, steps, lr, bsz, name, wd=0.1, ckpt=None, seed=0, device="cpu",
          bf16=False):
    """AdamW with warm-up and cosine decay over `steps`; with `bf16`, the forward and backward
    run under bf16 autocast (weights, optimiser state and the loss stay f32)."""
    decay = [p for p in params if p.dim() >= 2]
    nodecay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd},
                             {"params": nodecay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95), eps=1e-8)
    model.train()
    expect = {"name": name, "steps": steps, "lr": lr, "batch": bsz, "wd": wd, "seed": seed}
    meta = ckpt.load(name, expect, model, opt, data) if ckpt else None
    first = meta["step"] if meta else 0
    before_s = meta["seconds"] if meta else 0.0
    ema = meta["loss_ema"] if meta else None
    t0 = time.time()
    last_save = t0
    for step in range(first, steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr)
        x, y = data.batch(bsz)
        x, y = x.to(device), y.to(device)
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, VOCAB), y.reshape(-1), ignore_index=-100)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        lv = loss.item()
        ema = lv if ema is None else 0.95 * ema + 0.05 * lv
        now = time.time()
        if step % 10 == 0 or step == steps - 1:
            done = (step + 1 - first) * bsz * WINDOW
            log("%s step %5d/%d loss %.4f (ema %.4f) lr %.2e | %.0f bytes/s this run, %.1fs elapsed" % (
                name, step + 1, steps, lv, ema, opt.param_groups[0]["lr"],
                done / (now - t0), before_s + now - t0))
        if ckpt and (now - last_save >= ckpt.every_s or step == steps - 1 or STOP):
            meta = dict(expect, step=step + 1, loss_ema=ema, seconds=before_s + now - t0)
            ckpt.save(name, meta, model, opt, data)
            last_save = now
        if STOP:
            log("%s: stopped at step %d of %d%s" % (
                name, step + 1, steps, ", checkpointed in %s" % ckpt.dir if ckpt and ckpt.dir else ""))
            sys.exit(3)
    secs = before_s + time.time() - t0
    return {"seconds": secs, "final_loss_ema": ema,
            "bytes_per_s": steps * bsz * WINDOW / max(secs, 1e-9)}


def bench_bf16(args, train_streams, device):
    """Paired step times, bf16 autocast against f32, on one model and one batch: a warm-up
    step of each, then `args.bench_bf16` pairs in alternating order (f32 first, then bf16
    first); prints each pair's ratio, their median and range, and the load average."""
    torch.manual_seed(args.seed)
    m = Llama()
    init_weights(m, args.seed)
    m.to(device)
    x, y = Mixture([train_streams["austen"], train_streams["pydocs"]], args.seed).batch(args.batch)
    x, y = x.to(device), y.to(device)

    def step(bf16):
        t0 = time.time()
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16):
            logits = m(x)
        F.cross_entropy(logits.float().reshape(-1, VOCAB), y.reshape(-1)).backward()
        m.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        return time.time() - t0

    step(False)
    step(True)
    load0 = os.getloadavg()[0]
    ratios = []
    for i in range(args.bench_bf16):
        if i % 2 == 0:
            a = step(False)
            b = step(True)
        else:
            b = step(True)
            a = step(False)
        ratios.append(b / a)
        log("BENCH pair %d: bf16 / f32 step time %.3f" % (i + 1, b / a))
    r = sorted(ratios)
    log("BENCH bf16 / f32 step time (batch %d, %d threads, %s): median %.3f, range %.3f-%.3f over %d "
        "pairs; load average %.1f before, %.1f after" % (
            args.batch, torch.get_num_threads(), device, r[len(r) // 2] if len(r) % 2 else
            0.5 * (r[len(r) // 2 - 1] + r[len(r) // 2]), r[0], r[-1], len(r), load0, os.getloadavg()[0]))


def val_windows(val_stream, n):
    s = torch.from_numpy(val_stream.astype(np.int64))
    total = (len(s) - 1) // WINDOW
    n = min(n, total)
    idx = [int(i * total / n) * WINDOW for i in range(n)]  # evenly spaced, non-overlapping
    return torch.stack([s[i:i + WINDOW + 1] for i in idx])


@torch.no_grad()
def evaluate(model, vals, bsz=16):
    model.eval()
    res = {}
    for dom, w in vals.items():
        tot, cnt = 0.0, 0
        for i in range(0, len(w), bsz):
            x = w[i:i + bsz].to(next(model.parameters()).device)
            logits = model(x[:, :-1])
            tot += F.cross_entropy(logits.reshape(-1, VOCAB), x[:, 1:].reshape(-1),
                                   reduction="sum").item()
            cnt += x[:, 1:].numel()
        res[dom] = tot / cnt
    model.train()
    return res


# ----------------------------------------------------------------------------
# Outputs
# ----------------------------------------------------------------------------

CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "intermediate_size": INTER,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": KV_HEADS,
    "head_dim": HEAD_DIM,
    "hidden_act": "silu",
    "rms_norm_eps": EPS,
    "rope_theta": THETA,
    "rope_scaling": None,
    "vocab_size": VOCAB,
    "max_position_embeddings": 2048,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    "initializer_range": 0.02,
    "torch_dtype": "float16",
    "bos_token_id": None,
    "eos_token_id": None,
}

FIXTURE_INPUTS = [
    ("prose", "She had always thought the library the pleasantest room in the house, "
              "and said so."),
    ("code", "static inline int max_int(int a, int b)\n{\n\treturn a > b ? a : b;\n}\n"),
    ("scripture", "In the beginning God created the heaven and the earth. "
                  "And the earth was without form, and void;"),
]


def write_model(out_dir, sd):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    path = os.path.join(out_dir, "model.safetensors")
    t16 = {k: sd[k].to(torch.float16) for k in ORDER}
    save_safetensors(path, t16)
    back = load_safetensors(path)
    for k in ORDER:
        if back[k].dtype != torch.float16 or list(back[k].shape) != list(t16[k].shape) \
                or not torch.equal(back[k], t16[k]):
            raise SystemExit("%s: tensor %s did not round-trip" % (path, k))
    return {k: v.float() for k, v in back.items()}


@torch.no_grad()
def write_fixtures(out_dir, sd32):
    m = Llama()
    m.load_state_dict(sd32)
    m.eval()
    t = {}
    for i, (_, text) in enumerate(FIXTURE_INPUTS):
        ids = torch.tensor(list(text.encode()), dtype=torch.int64)[None]
        hid, kv = [], []
        logits = m(ids, hidden_capture=hid, kv_capture=kv)
        t["input_ids.%d" % i] = ids[0].to(torch.int32)
        t["logits.%d" % i] = logits[0].float()
        for l in range(LAYERS):
            k, v = kv[l]  # [1, kv_heads, T, head_dim] -> [T, kv_heads, head_dim]
            t["k.%d.%d" % (i, l)] = k[0].transpose(0, 1).contiguous()
            t["v.%d.%d" % (i, l)] = v[0].transpose(0, 1).contiguous()
            t["hidden.%d.%d" % (i, l)] = hid[l][0].contiguous()
    path = os.path.join(out_dir, "fixtures.safetensors")
    save_safetensors(path, t)
    back = load_safetensors(path)
    for k, v in t.items():
        if not torch.equal(back[k], v):
            raise SystemExit("%s: fixture %s did not round-trip" % (path, k))
    return path


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


DOMAIN_ORDER = ["prose", "prose-austen", "prose-pydocs", "code", "scripture"]


def loss_table(rows):
    s = "| model | " + " | ".join(DOMAIN_ORDER) + " |\n"
    s += "| --- |" + " --- |" * len(DOMAIN_ORDER) + "\n"
    for name, v in rows:
        s += "| %s | " % name + " | ".join("%.4f" % v[d] for d in DOMAIN_ORDER) + " |\n"
    return s


SPLIT_DOC = """\
Held-out (validation) split, deterministic and disjoint from training:
- Austen (r-cran-janeaustenr): the last 5% of the bytes of each of the six novels
  (cut at the next line start); the first 95% is training text.
- Python reST sources (python3.11-doc, `/usr/share/doc/python3.11/html/_sources/**/*.txt`)
  and C headers (the `.h` files under `/usr/include` listed by `dpkg -L libc6-dev
  linux-libc-dev`): every 20th file in sorted path order (index % 20 == 19).
- King James Bible (bible-kjv-text, text as printed by `bible -l10000 Gen1:1-Rev22:21`,
  split into its 66 books): every 20th book in canonical order (Proverbs, Matthew, 1 Peter).
Within a domain, documents are joined with a blank line ("\\n\\n")."""


def model_card(name, info, rows, args):
    desc = {
        "base": "Trained from scratch (seeded random init) on general prose: Jane Austen's "
                "six novels and the reST sources of Python 3.11's documentation, sampled "
                "half and half (each batch alternates windows from the two sources).",
        "ft-code": "Full fine-tune of `base` (starting from its f16-rounded weights) on C headers; "
                   "every tensor was trained.",
        "ft-scripture": "Full fine-tune of `base` (starting from its f16-rounded weights) on the "
                        "King James Bible; every tensor was trained.",
        "lora-scripture": "LoRA fine-tune of `base` (starting from its f16-rounded weights) on the "
                          "King James Bible: rank %d, alpha %d (scale %.1f) adapters on q_proj, "
                          "k_proj, v_proj, o_proj, gate_proj, up_proj and down_proj of every layer; "
                          "everything else (embeddings, norms, lm_head) frozen. The adapters are "
                          "merged into the weights (W + scale * B A), then rounded to f16, so "
                          "only the projection matrices differ from base." % (
                              args.lora_rank, args.lora_alpha, args.lora_alpha / args.lora_rank),
        "frozen-code": "Fine-tune of `base` (starting from its f16-rounded weights) on C headers "
                       "with `model.embed_tokens.weight` and every tensor of layers 0..%d frozen. "
                       "Those tensors are bit-identical to base's `model.safetensors` (the script "
                       "compares the bytes and fails otherwise); layers %d..%d, `model.norm` and "
                       "`lm_head` were trained." % (FROZEN_LAYERS - 1, FROZEN_LAYERS, LAYERS - 1),
        "ft-recall": "Task fine-tune of `base` (starting from its f16-rounded weights; every tensor "
                     "trained) on the retrieval task of `tools/recall_task.py`: a run of 4 to 12 "
                     "`#define NAME VALUE` records from one C header (the whole example at most "
                     "256 bytes), then `Q: NAME\\nA: ` and the "
                     "value. Loss on every byte of the example (records, question, answer). Examples "
                     "come from the training headers only; `base` never saw the task.",
    }[name]
    if name == "base" and info.get("init", "random") != "random":
        desc += " Training continued from the weights in `%s`." % info["init"]
    corpus = {
        "base": ["austen", "pydocs"], "ft-code": ["code"], "frozen-code": ["code"],
        "ft-scripture": ["scripture"], "lora-scripture": ["scripture"], "ft-recall": ["code"],
    }[name]
    lines = ["# droidspeak bundled model: `%s`" % name, ""]
    lines += ["A tiny byte-level (vocabulary 256: token id = byte value, no special tokens) "
              "Llama-architecture model (`LlamaForCausalLM`: 12 layers, hidden 192, 4 query "
              "heads, 2 KV heads, head_dim 48, SwiGLU intermediate 512, RMSNorm eps 1e-5, "
              "RoPE theta 10000 in HF's rotate-half layout, untied LM head), stored as f16 "
              "safetensors. Part of droidspeak's model family, produced by "
              "`tools/train_family.py`. It is a test and demonstration model, not a useful "
              "language model.", ""]
    lines += ["## Training", "", desc, ""]
    lines += ["| | |", "| --- | --- |"]
    if name != "base":
        lines += ["| initialised from | `base` (f16-rounded) |"]
    lines += ["| corpus | %s |" % "; ".join(
        "%s (Debian package `%s`)" % ({"austen": "Jane Austen's novels", "pydocs":
                                       "Python 3.11 documentation reST sources",
                                       "code": "C headers under /usr/include",
                                       "scripture": "King James Bible"}[c], PACKAGES[c][0])
        for c in corpus)]
    lines += ["| licences | %s |" % "; ".join(PACKAGES[c][1] for c in corpus)]
    lines += ["| training bytes available | %d |" % info["train_bytes"]]
    if name == "ft-recall":
        batch_lines = ["| batch | %d task examples (one each, right-padded; padding not scored) |" % args.batch,
                       "| examples seen | %d |" % (info["steps"] * args.batch)]
    else:
        batch_lines = ["| batch | %d windows of %d bytes (%d predicted bytes per step) |" % (
                           args.batch, WINDOW, args.batch * WINDOW),
                       "| bytes seen | %d |" % (info["steps"] * args.batch * WINDOW)]
    lines += ["| steps | %d |" % info["steps"]] + batch_lines + [
              "| optimiser | AdamW, betas (0.9, 0.95), weight decay %.2g on matrices, 0 on norms; "
              "grad-norm clip 1.0 |" % info["wd"],
              "| learning rate | peak %.2e, linear warm-up over 5%% of steps, cosine decay to 10%% of peak |" % info["lr"],
              "| seed | %d |" % info["seed"],
              "| precision | %s |" % info.get("precision", "f32"),
              "| training time | %.0f s wall on %s, torch %s |" % (
                  info["seconds"], info.get("device", "%d CPU threads" % torch.get_num_threads()),
                  info.get("torch", torch.__version__)),
              "| final training loss (EMA) | %.4f nats/byte |" % info["final_loss_ema"], ""]
    lines += ["## Validation loss", "",
              "Mean cross-entropy in nats per byte on the held-out split of every domain, "
              "computed in f32 from the committed f16 weights, over %d evenly spaced, "
              "non-overlapping 257-byte windows per domain (256 predictions each, all "
              "positions counted). `prose` is the mean of `prose-austen` and `prose-pydocs`." % args.eval_windows, ""]
    lines += [loss_table(rows)]
    lines += ["(The row for this model is `%s`; the other rows are the family, for comparison.)" % name, ""]
    lines += ["## Data split", "", SPLIT_DOC, ""]
    lines += ["## Fixtures (`fixtures.safetensors`)", "",
              "Reference activations computed with PyTorch in f32 from this directory's "
              "f16 weights (loaded back from `model.safetensors` and converted to f32), for "
              "three fixed inputs (bytes of UTF-8/ASCII text, one sequence each, positions "
              "0..T-1, no BOS):", ""]
    for i, (dom, text) in enumerate(FIXTURE_INPUTS):
        lines += ["%d. %s, %d bytes: `%s`" % (i, dom, len(text.encode()),
                                              text.replace("\n", "\\n").replace("\t", "\\t"))]
    lines += ["", "Tensor names (all F32 except `input_ids`, which is I32):", "",
              "- `input_ids.<i>` [T] (I32): the byte values of input i;",
              "- `logits.<i>` [T, 256]: LM-head output at every position;",
              "- `k.<i>.<l>`, `v.<i>.<l>` [T, 2, 48]: layer l's keys (after RoPE) and values "
              "as HF caches them, transposed to token-major (token, kv head, head_dim), l = 0..11;",
              "- `hidden.<i>.<l>` [T, 192]: the residual stream entering layer l, before its "
              "input_layernorm (`hidden.<i>.0` is the token embedding), l = 0..11 — HF's "
              "`hidden_states[l]`.", ""]
    lines += ["## Files", "", "| file | bytes | sha256 |", "| --- | --- | --- |"]
    for fn in ["config.json", "model.safetensors", "fixtures.safetensors"]:
        p = os.path.join(info["dir"], fn)
        lines += ["| `%s` | %d | `%s` |" % (fn, os.path.getsize(p), sha256(p))]
    lines += [""]
    with open(os.path.join(info["dir"], "README.md"), "w") as f:
        f.write("\n".join(lines))


def clean_window(b):
    return all(c in (9, 10) or 32 <= c < 127 for c in b)


def write_samples(data_dir, val_docs, n=16, ctx=WINDOW - 64, suf=64):
    """Profiling samples from each domain's held-out documents (ASCII-clean windows). A
    sample's context and suffix together fill the training window: no model saw a position
    beyond it, and a longer sample would measure their extrapolation, not cache reuse."""
    os.makedirs(data_dir, exist_ok=True)
    written = {}
    for dom, docs in val_docs.items():
        W = ctx + suf
        # candidate windows: start every W bytes inside each document, never crossing
        # a document boundary; keep ASCII-clean windows only.
        cands = []
        for src, ds in docs:
            for name, data in ds:
                for s in range(0, len(data) - W + 1, W):
                    w = data[s:s + W]
                    if clean_window(w):
                        cands.append((src, name, s, w))
        # spread over documents: with at least 2n documents, take the middle candidate
        # of 2n evenly spaced documents; otherwise share the 2n samples out over the
        # documents and take evenly spaced candidates inside each. Sources (prose: austen,
        # pydocs) get equal shares. Alternate samples go to profile / heldout.
        by_src = {}
        for c in cands:
            by_src.setdefault(c[0], {}).setdefault(c[1], []).append(c)
        srcs = [sname for sname, _ in docs if sname in by_src]
        need = 2 * n
        per = [need // len(srcs) + (1 if i < need % len(srcs) else 0) for i in range(len(srcs))]
        prof, held = [], []
        for si, sname in enumerate(srcs):
            by_doc = by_src[sname]
            names = [nm for nm, _ in dict(docs)[sname] if nm in by_doc]
            picked = []
            if len(names) >= per[si]:
                for j in range(per[si]):
                    lst = by_doc[names[int(j * len(names) / per[si])]]
                    picked.append(lst[len(lst) // 2])
            else:
                for di, nm in enumerate(names):
                    k = per[si] // len(names) + (1 if di < per[si] % len(names) else 0)
                    lst = by_doc[nm]
                    k = min(k, len(lst))
                    picked += [lst[int((j + 0.5) * len(lst) / k)] for j in range(k)]
            prof.append(picked[0::2])
            held.append(picked[1::2])

        def interleave(groups):
            out = []
            for j in range(max(len(g) for g in groups)):
                out += [g[j] for g in groups if j < len(g)]
            return out

        prof, held = interleave(prof), interleave(held)
        for kind, lst in (("profile", prof), ("heldout", held)):
            p = os.path.join(data_dir, "%s_%s.jsonl" % (dom, kind))
            with open(p, "w") as f:
                for src, name, s, w in lst:
                    f.write(json.dumps({"context": w[:ctx].decode("ascii"),
                                        "suffix": w[ctx:].decode("ascii")}) + "\n")
            written[p] = len(lst)
    return written


DATA_README = """\
# Profiling samples

`<domain>_profile.jsonl` and `<domain>_heldout.jsonl` for domain in `prose`, `code`,
`scripture`, written by `tools/train_family.py` from the **validation split** of each
domain (text none of the bundled models trained on). `profile` is meant for choosing
reuse plans, `heldout` for evaluating the chosen plan on different text.

Format: JSON Lines, one object per line:

    {"context": "<192 bytes of text>", "suffix": "<64 bytes of text>"}

- `context` is exactly 192 bytes and `suffix` the 64 bytes that follow it in the same
  document (they are contiguous: `context + suffix` is a 256-byte span of the source, the
  models' training window: no model saw a later position).
- Every window is ASCII-clean (bytes 0x20..0x7E, tab and newline only), so the JSON
  strings decode to exactly those bytes and the byte-level models' tokens are the byte
  values of the UTF-8 (= ASCII) encoding.
- Windows never cross a document boundary. Candidate windows start at every multiple of
  256 bytes inside each held-out document. Each source gets an equal share of the 32
  samples (prose: 16 Austen, 16 Python docs); with at least that many held-out documents
  the middle candidate of evenly spaced documents is taken, otherwise the share is spread
  evenly over the documents and over the candidates inside each. Consecutive picks go
  alternately to `profile` and `heldout`, so the two files never share text.
- 16 samples per file.

Sources and split:

%s

## The retrieval task: `recall_profile.jsonl`, `recall_heldout.jsonl`

Question-answer samples (16 per file) for the task measures `f1` and `exact`, written by
`tools/recall_task.py` from the held-out C headers only (the task fine-tune `ft-recall`
trained on examples from the training headers). One JSON object per line:

    {"context": "#define N_UNDF 0\n#define N_ABS 2\n...", "question": "Q: N_ABS\nA: ", "answer": "2"}

- `context` is a run of 4 to 12 consecutive `#define NAME VALUE` records of one header, one
  per line, as many as keep the whole example (context, question, answer, newline) within
  256 bytes, the models' training window, re-spaced to a single space; only names defined once in that header, values of
  at most 24 printable ASCII bytes with no comment or line continuation, and no value that
  contains its own name (`#define IFF_UP IFF_UP` would answer itself).
- `question` names one record of the context (never its first or last); `answer` is that
  record's value. The receiver generates greedily after the question and stops at a newline.
- Round j takes the next run of every held-out header in path order (as many records as
  fit, at most 12); consecutive samples go alternately to `profile` and `heldout`.

Licences: Austen text via r-cran-janeaustenr (package MIT; novels public domain); Python
documentation via python3.11-doc (PSF License); C headers via libc6-dev (LGPL-2.1+) and
linux-libc-dev (GPL-2 with Linux-syscall-note); King James Bible via bible-kjv-text
(public domain text).

# Task samples

Task samples (`profile --measure f1|exact`, `compare`) hold a question and a reference answer
instead of a suffix; `profile` and `compare` recognise them by a `"question"` or
`"question_ids"` key on the first line (`profile/qa_samples_file.hpp` parses them). JSON Lines,
one object per non-blank line, either text for byte-level models:

    {"context": "alpha: 31\\nbravo: 58\\n", "question": "lookup bravo:", "answer": " 58"}

or token ids for any model:

    {"context_ids": [..], "question_ids": [..], "answer_ids": [..], "stop_id": 10}

with, in either form, an optional `"max_answer_tokens": N` (1..4096).

- `context` is the reused part: the sender prefills it, and the receiver reuses its KV per the
  plan. `question` is the suffix the receiver prefills over that mixed cache (at least 2
  tokens: it is also scored by loss, accuracy and KL). Then the receiver generates greedily on
  the same cache.
- Generation stops after the first `'\\n'` byte for text samples (so a text `answer` may not
  contain a line feed), after `stop_id` for ids samples (which `answer_ids` may not contain;
  without `stop_id` the whole budget is generated), or after `max_answer_tokens` tokens
  (default: the answer's length + 8, capped by the positions left under the models'
  `max_position_embeddings`). The stop token is not part of the scored answer.
- Context + question + the generation budget must fit in `max_position_embeddings`; the three
  fields must all be text or all ids; the answer must be non-empty. Errors name the file and
  line, as for samples files (lines over 16 MiB and invalid UTF-8 are refused the same way).
- Scoring (`profile/answer_score.hpp`): text answers are split into words (runs of ASCII
  letters, digits, `_` and non-ASCII bytes; ASCII letters lower-cased; everything else
  separates), `f1` is the word-multiset F1 of prediction and reference (1 when both have no
  words, 0 when only one has none), `exact` is 1 when the word sequences are equal. Id answers
  use the ids as words. No article removal: answers are code and scripture.

`examples/cli/testdata/recall_qa.jsonl` is a small hand-written example (key/value records, C
declarations and Genesis 1, each looked up by its key), used by the CLI tests.
"""


# ----------------------------------------------------------------------------
# main
# ----------------------------------------------------------------------------
ORDER = None


def param_order():
    names = ["model.embed_tokens.weight"]
    for i in range(LAYERS):
        p = "model.layers.%d." % i
        names += [p + "input_layernorm.weight"]
        names += [p + "self_attn.%s_proj.weight" % x for x in "qkvo"]
        names += [p + "post_attention_layernorm.weight"]
        names += [p + "mlp.%s_proj.weight" % x for x in ("gate", "up", "down")]
    names += ["model.norm.weight", "lm_head.weight"]
    return names


def main():
    global LOGFILE, ORDER
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "examples", "models"))
    ap.add_argument("--data-out", default=os.path.join(REPO, "examples", "data"))
    ap.add_argument("--cache", default="/tmp/droidspeak_corpus")
    ap.add_argument("--log", default="/tmp/train_family.log")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--base-steps", type=int, default=600)
    ap.add_argument("--ft-steps", type=int, default=150)
    ap.add_argument("--lora-steps", type=int, default=None)
    ap.add_argument("--frozen-steps", type=int, default=None)
    ap.add_argument("--base-lr", type=float, default=2e-3)
    ap.add_argument("--ft-lr", type=float, default=5e-4)
    ap.add_argument("--lora-lr", type=float, default=2e-3)
    ap.add_argument("--lora-rank", type=int, default=8)
    ap.add_argument("--lora-alpha", type=int, default=16)
    ap.add_argument("--eval-windows", type=int, default=48)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--smoke", action="store_true", help="3 steps per model, outputs in /tmp")
    ap.add_argument("--bench", type=int, default=0, help="time this many training steps and exit")
    ap.add_argument("--resume", action="store_true",
                    help="reuse model directories with a train_info.json from an earlier run "
                         "(same arguments) instead of training them again")
    ap.add_argument("--samples-only", action="store_true", help="write examples/data and exit")
    ap.add_argument("--corpora", default=None,
                    help="read the split corpora from this pack (written by --pack-corpora) "
                         "instead of the Debian packages")
    ap.add_argument("--pack-corpora", default=None, help="write the split corpora to this file and exit")
    ap.add_argument("--bf16", action="store_true",
                    help="train under bf16 autocast (faster on CPUs with AVX-512 BF16 and on GPUs: "
                         "bench/RESULTS.md; evaluation and fixtures stay f32)")
    ap.add_argument("--bench-bf16", type=int, default=0,
                    help="time this many interleaved pairs of f32 and bf16 training steps and exit")
    ap.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when available)")
    ap.add_argument("--state-dir", default=os.path.join(REPO, "train-state"),
                    help="checkpoints between sessions (see Checkpoints); '' turns them off")
    ap.add_argument("--checkpoint-every", type=float, default=300.0, help="seconds between checkpoints")
    ap.add_argument("--base-init", default=None,
                    help="start base from these f16 weights (e.g. the committed base) instead of "
                         "a random initialisation")
    ap.add_argument("--recall-steps", type=int, default=None, help="steps of the task fine-tune ft-recall")
    ap.add_argument("--recall-lr", type=float, default=None)
    ap.add_argument("--stages", default="base,ft-code,ft-scripture,lora-scripture,frozen-code,ft-recall",
                    help="comma-separated models to train now; the others must exist already")
    args = ap.parse_args()
    if args.smoke:
        args.base_steps = args.ft_steps = 3
        args.eval_windows = 4
        args.out = "/tmp/droidspeak_smoke/models"
        args.data_out = "/tmp/droidspeak_smoke/data"
        args.log = "/tmp/droidspeak_smoke/train.log"
        os.makedirs("/tmp/droidspeak_smoke", exist_ok=True)
    lora_steps = args.lora_steps if args.lora_steps is not None else args.ft_steps
    frozen_steps = args.frozen_steps if args.frozen_steps is not None else args.ft_steps
    LOGFILE = args.log
    stop_on_signal()
    torch.set_num_threads(args.threads)
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True  # training only; fixtures run in f32 on the CPU
        torch.backends.cudnn.allow_tf32 = True
    stages = set(args.stages.split(","))
    recall_steps = args.recall_steps if args.recall_steps is not None else args.ft_steps
    recall_lr = args.recall_lr if args.recall_lr is not None else args.ft_lr
    ckpt = Checkpoints(args.state_dir if not args.smoke else "", args.checkpoint_every)
    ORDER = param_order()
    log("droidspeak train_family: torch %s, %d threads, device %s%s, python %s, argv %s" % (
        torch.__version__, torch.get_num_threads(), device,
        " (%s)" % torch.cuda.get_device_name(0) if device == "cuda" else "", sys.executable,
        " ".join(sys.argv[1:])))
    torch.randn(64, 64) @ torch.randn(64, 64)  # make sure the BLAS is loaded
    blas = sorted({l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower()
                   and "/" in l})
    log("BLAS libraries mapped: %s" % (", ".join(blas) or "none"))
    if not any("openblas" in b for b in blas):
        log("WARNING: OpenBLAS is not loaded; install libopenblas0-openmp "
            "(the reference BLAS trains more than 10x slower)")

    src = load_corpora_pack(args.corpora) if args.corpora else load_corpora(args.cache)
    if args.pack_corpora:
        save_corpora(args.pack_corpora, src)
        log("wrote %s (%d bytes)" % (args.pack_corpora, os.path.getsize(args.pack_corpora)))
        return
    train_streams = {k: stream(tr) for k, (tr, va) in src.items()}
    log("scripture held-out books: %s" % ", ".join(n for n, _ in src["scripture"][1]))
    vals = {}
    for k in ("austen", "pydocs", "code", "scripture"):
        vals[k] = val_windows(stream(src[k][1]), args.eval_windows)
    vals_named = {"prose-austen": vals["austen"], "prose-pydocs": vals["pydocs"],
                  "code": vals["code"], "scripture": vals["scripture"]}

    def evaluate_all(m):
        r = evaluate(m, vals_named)
        r["prose"] = 0.5 * (r["prose-austen"] + r["prose-pydocs"])
        return r

    if args.bench_bf16:
        bench_bf16(args, train_streams, device)
        return
    if args.bench:
        torch.manual_seed(args.seed)
        m = Llama()
        init_weights(m, args.seed)
        m.to(device)
        d = Mixture([train_streams["austen"], train_streams["pydocs"]], args.seed)
        train(m, list(m.parameters()), d, 2, args.base_lr, args.batch, "warmup", device=device,
              bf16=args.bf16)
        r = train(m, list(m.parameters()), d, args.bench, args.base_lr, args.batch, "bench",
                  device=device, bf16=args.bf16)
        log("BENCH batch %d: %.1f s/step, %.0f bytes/s" % (
            args.batch, r["seconds"] / args.bench, r["bytes_per_s"]))
        t0 = time.time()
        evaluate(m, {"x": vals["austen"][:16]})
        log("BENCH eval: %.2f s per 16 windows" % (time.time() - t0))
        return

    os.makedirs(args.out, exist_ok=True)
    written = write_samples(args.data_out, {
        "prose": [("austen", src["austen"][1]), ("pydocs", src["pydocs"][1])],
        "code": [("code", src["code"][1])],
        "scripture": [("scripture", src["scripture"][1])],
    })
    written.update(recall_task.write_qa_samples(args.data_out, src["code"][1]))
    with open(os.path.join(args.data_out, "README.md"), "w") as f:
        f.write(DATA_README % SPLIT_DOC)
    for p, n in written.items():
        log("wrote %s (%d samples)" % (p, n))
    if args.samples_only:
        return

    results, infos = [], {}
    t_all = time.time()

    def finish(name, model, info):
        d = os.path.join(args.out, name)
        info["device"] = (torch.cuda.get_device_name(0) if device == "cuda"
                          else "%d CPU threads" % torch.get_num_threads())
        info["torch"] = torch.__version__
        info["precision"] = "bf16 autocast, f32 weights and AdamW state" if args.bf16 else "f32"
        sd = state(model)
        sd32 = write_model(d, sd)
        m = Llama()
        m.load_state_dict(sd32)
        ev = evaluate_all(m)
        write_fixtures(d, sd32)
        info["dir"] = d
        infos[name] = info
        results.append((name, ev))
        with open(os.path.join(d, "train_info.json"), "w") as f:
            json.dump(dict({k: v for k, v in info.items() if k != "dir"}, val_loss=ev), f,
                      indent=1, sort_keys=True)
            f.write("\n")
        log("%s done: %s" % (name, " ".join("%s %.4f" % (k, ev[k]) for k in DOMAIN_ORDER)))
        return sd32

    def try_resume(name):
        """Reuse a model directory that a previous run completed: with --resume, or when the
        model is not among --stages (then it must exist)."""
        d = os.path.join(args.out, name)
        ip = os.path.join(d, "train_info.json")
        exists = os.path.exists(ip) and os.path.exists(os.path.join(d, "model.safetensors"))
        if name not in stages and not exists:
            raise SystemExit("%s is not among --stages and %s holds no trained model" % (name, d))
        if not (exists and (args.resume or name not in stages)):
            return None
        info = json.load(open(ip))
        with open(os.path.join(d, "config.json"), "w") as f:  # the same for every model
            json.dump(CONFIG, f, indent=2)
            f.write("\n")
        sd32 = {k: v.float() for k, v in load_safetensors(os.path.join(d, "model.safetensors")).items()}
        ev = info.pop("val_loss", None)
        if ev is None:  # evaluate the stored f16 weights and record the result
            m = Llama()
            m.load_state_dict(sd32)
            ev = evaluate_all(m)
            with open(ip, "w") as f:
                json.dump(dict(info, val_loss=ev), f, indent=1, sort_keys=True)
                f.write("\n")
        write_fixtures(d, sd32)
        info["dir"] = d
        infos[name] = info
        results.append((name, ev))
        log("%s resumed from %s (%d steps, %.0f s): %s" % (
            name, d, info["steps"], info["seconds"],
            " ".join("%s %.4f" % (k, ev[k]) for k in DOMAIN_ORDER)))
        return sd32

    order = ["base", "ft-code", "ft-scripture", "lora-scripture", "frozen-code", "ft-recall"]
    last = max(order.index(x) for x in stages if x in order)

    def stop_after(name):
        """True when the requested stages end at `name` and later models are not asked for."""
        if order.index(name) == last and last < len(order) - 1:
            log("stopping after %s as --stages asks; the family README and cards are not "
                "rewritten" % name)
            return True
        return False

    def fresh(sd32, seed):
        torch.manual_seed(seed)
        m = Llama()
        m.load_state_dict(sd32)
        return m.to(device)

    def run(m, params, data, steps, lr, name, seed, wd=0.1):
        return train(m, params, data, steps, lr, args.batch, name, wd=wd, ckpt=ckpt, seed=seed,
                     device=device, bf16=args.bf16)

    # ---- base
    base32 = try_resume("base")
    if base32 is None:
        seed = args.seed
        torch.manual_seed(seed)
        base = Llama()
        init_weights(base, seed)
        if args.base_init:
            base.load_state_dict({k: v.float() for k, v in load_safetensors(args.base_init).items()})
            log("base starts from %s" % args.base_init)
        base.to(device)
        data = Mixture([train_streams["austen"], train_streams["pydocs"]], seed)
        info = run(base, list(base.parameters()), data, args.base_steps, args.base_lr, "base", seed)
        info.update(steps=args.base_steps, lr=args.base_lr, seed=seed, wd=0.1,
                    init=os.path.relpath(args.base_init, REPO) if args.base_init else "random",
                    train_bytes=len(train_streams["austen"]) + len(train_streams["pydocs"]))
        base32 = finish("base", base, info)
        del base
    if stop_after("base"):
        return

    # ---- full fine-tunes
    for i, (name, dom) in enumerate((("ft-code", "code"), ("ft-scripture", "scripture"))):
        if try_resume(name) is None:
            seed = args.seed + 1 + i
            m = fresh(base32, seed)
            data = Mixture([train_streams[dom]], seed)
            info = run(m, list(m.parameters()), data, args.ft_steps, args.ft_lr, name, seed)
            info.update(steps=args.ft_steps, lr=args.ft_lr, seed=seed, wd=0.1,
                        train_bytes=len(train_streams[dom]))
            finish(name, m, info)
        if stop_after(name):
            return

    # ---- LoRA on scripture
    if try_resume("lora-scripture") is None:
        seed = args.seed + 3
        m = fresh(base32, seed)
        for p in m.parameters():
            p.requires_grad_(False)
        g = torch.Generator().manual_seed(seed)
        loras = {}
        for li, layer in enumerate(m.model.layers):
            for mod, names in ((layer.self_attn, ("q_proj", "k_proj", "v_proj", "o_proj")),
                               (layer.mlp, ("gate_proj", "up_proj", "down_proj"))):
                for nm in names:
                    lo = LoRALinear(getattr(mod, nm), args.lora_rank, args.lora_alpha, g).to(device)
                    setattr(mod, nm, lo)
                    loras[(li, mod is layer.mlp, nm)] = lo
        params = [p for p in m.parameters() if p.requires_grad]
        data = Mixture([train_streams["scripture"]], seed)
        info = run(m, params, data, lora_steps, args.lora_lr, "lora-scripture", seed, wd=0.0)
        info.update(steps=lora_steps, lr=args.lora_lr, seed=seed, wd=0.0,
                    train_bytes=len(train_streams["scripture"]))
        merged = fresh(base32, seed)
        with torch.no_grad():
            for (li, is_mlp, nm), lo in loras.items():
                layer = merged.model.layers[li]
                tgt = getattr(layer.mlp if is_mlp else layer.self_attn, nm)
                tgt.weight.copy_(lo.merged())
        finish("lora-scripture", merged, info)
        del m, merged, loras
    if stop_after("lora-scripture"):
        return

    # ---- frozen-code: embeddings and layers 0..5 frozen
    if try_resume("frozen-code") is None:
        seed = args.seed + 4
        m = fresh(base32, seed)
        m.model.embed_tokens.weight.requires_grad_(False)
        for li in range(FROZEN_LAYERS):
            for p in m.model.layers[li].parameters():
                p.requires_grad_(False)
        params = [p for p in m.parameters() if p.requires_grad]
        data = Mixture([train_streams["code"]], seed)
        info = run(m, params, data, frozen_steps, args.ft_lr, "frozen-code", seed)
        info.update(steps=frozen_steps, lr=args.ft_lr, seed=seed, wd=0.1,
                    train_bytes=len(train_streams["code"]))
        finish("frozen-code", m, info)
    if stop_after("frozen-code"):
        return

    # ---- ft-recall: the task fine-tune (base itself never sees the task)
    if try_resume("ft-recall") is None:
        seed = args.seed + 5
        m = fresh(base32, seed)
        task_files = recall_task.files_with_records(src["code"][0])
        log("ft-recall: %d training headers with enough #define records" % len(task_files))
        data = recall_task.TaskBatches(task_files, seed)
        info = run(m, list(m.parameters()), data, recall_steps, recall_lr, "ft-recall", seed)
        info.update(steps=recall_steps, lr=recall_lr, seed=seed, wd=0.1,
                    train_bytes=sum(len(d) for _, d in src["code"][0]))
        probe = recall_task.heldout_examples(recall_task.files_with_records(src["code"][1]), 16)
        got = recall_task.greedy_answers(m, probe, device=device)
        info["heldout_exact_greedy"] = sum(g == e["answer"] for g, e in zip(got, probe)) / len(probe)
        log("ft-recall: %d of %d held-out answers exact (greedy)" % (
            sum(g == e["answer"] for g, e in zip(got, probe)), len(probe)))
        finish("ft-recall", m, info)
    a = load_safetensors_raw(os.path.join(args.out, "base", "model.safetensors"))
    b = load_safetensors_raw(os.path.join(args.out, "frozen-code", "model.safetensors"))
    frozen = ["model.embed_tokens.weight"] + [n for n in ORDER if any(
        n.startswith("model.layers.%d." % i) for i in range(FROZEN_LAYERS))]
    bad = [n for n in frozen if a[n] != b[n]]
    if bad:
        raise SystemExit("FROZEN CHECK FAILED: %d frozen tensors differ from base: %s" % (len(bad), bad[:5]))
    changed = [n for n in ORDER if n not in frozen and a[n][2] != b[n][2]]
    log("frozen check OK: %d tensors bit-identical to base; %d of %d trained tensors changed" % (
        len(frozen), len(changed), len(ORDER) - len(frozen)))
    # every other model must differ from base somewhere
    for name in ("ft-code", "ft-scripture", "lora-scripture", "ft-recall"):
        c = load_safetensors_raw(os.path.join(args.out, name, "model.safetensors"))
        diff = [n for n in ORDER if c[n][2] != a[n][2]]
        log("%s: %d of %d tensors differ from base" % (name, len(diff), len(ORDER)))

    for name, info in infos.items():
        model_card(name, info, results, args)
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write(FAMILY_README % (loss_table(results), "\n".join(
            "| `%s` | %d | %.0f |" % (n, infos[n]["steps"], infos[n]["seconds"]) for n in infos),
            " ".join(sys.argv[1:]), SPLIT_DOC))
    log("all done in %.0f s" % (time.time() - t_all))


FAMILY_README = """\
# droidspeak's bundled model family

Six tiny byte-level Llama-architecture models (12 layers, hidden 192, 4 query heads,
2 KV heads, head_dim 48, SwiGLU 512, vocabulary 256 = bytes) that share one base, made by
`tools/train_family.py` from text shipped in Debian packages. They exist to exercise
KV-cache reuse between a base and its fine-tunes; they are not useful language models.

| model | what it is |
| --- | --- |
| `base` | trained from scratch on general prose (Austen + Python docs) |
| `ft-code` | full fine-tune of base on C headers |
| `ft-scripture` | full fine-tune of base on the King James Bible |
| `lora-scripture` | rank-8 LoRA on all projections, merged: lighter divergence |
| `frozen-code` | fine-tune on C headers, embeddings + layers 0..5 frozen (bit-identical to base) |
| `ft-recall` | task fine-tune of base: look a `#define`'s value up by its name (`tools/recall_task.py`) |

Validation loss (nats/byte, held-out split, f16 weights evaluated in f32):

%s
| model | steps | training seconds |
| --- | --- | --- |
%s

Command: `/usr/bin/python3 tools/train_family.py %s`

Each directory holds `config.json`, `model.safetensors` (F16), `fixtures.safetensors`
(F32 reference activations; see the model card) and `README.md` (the model card).
`/usr/bin/python3 tools/check_fixtures.py` re-derives every fixture with an independent
float64 numpy implementation of the HF Llama forward pass and checks the files' layout.

%s
"""

if __name__ == "__main__":
    main()
