#!/usr/bin/python3
"""Independent check of the bundled models and their fixtures (numpy only, no torch).

For every model directory given (default: examples/models/*/), parse config.json and
model.safetensors with a separate safetensors reader, re-implement the HF Llama forward
pass in float64 numpy (per head, loops, no shared code with train_family.py) and compare
logits, K, V and hidden states with fixtures.safetensors. Also checks the safetensors
layout rules (8-byte header length, JSON header, contiguous in-bounds offsets).

    /usr/bin/python3 tools/check_fixtures.py [MODEL_DIR ...]
"""
import glob
import json
import os
import struct
import sys

import numpy as np

DT = {"F16": np.float16, "F32": np.float32, "I32": np.int32, "BF16": None}


def read_st(path):
    raw = open(path, "rb").read()
    if len(raw) < 8:
        raise ValueError("%s: shorter than 8 bytes" % path)
    n = struct.unpack("<Q", raw[:8])[0]
    if 8 + n > len(raw):
        raise ValueError("%s: header length past the end" % path)
    hdr = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = hdr.pop("__metadata__", None)
    spans = []
    out = {}
    for name, h in hdr.items():
        a, b = h["data_offsets"]
        dt = np.dtype(DT[h["dtype"]])
        count = int(np.prod(h["shape"])) if h["shape"] else 1
        if b - a != count * dt.itemsize:
            raise ValueError("%s: %s byte count mismatch" % (path, name))
        spans.append((a, b))
        out[name] = np.frombuffer(raw, dtype=dt, count=count, offset=8 + n + a).reshape(h["shape"])
    spans.sort()
    pos = 0
    for a, b in spans:
        if a != pos:
            raise ValueError("%s: gap or overlap at %d" % (path, a))
        pos = b
    if 8 + n + pos != len(raw):
        raise ValueError("%s: data size mismatch" % path)
    return out, meta


def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def forward(W, cfg, ids):
    H, L = cfg["hidden_size"], cfg["num_hidden_layers"]
    nh, nkv, hd = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps, theta = cfg["rms_norm_eps"], cfg["rope_theta"]
    T = len(ids)
    g = lambda k: W[k].astype(np.float64)
    half = hd // 2
    inv = 1.0 / theta ** (np.arange(half) * 2.0 / hd)
    ang = np.arange(T)[:, None] * inv[None, :]  # [T, half]
    cos, sin = np.cos(ang), np.sin(ang)

    def rope(x):  # x [T, hd], rotate-half layout
        x1, x2 = x[:, :half], x[:, half:]
        return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], axis=1)

    h = g("model.embed_tokens.weight")[ids]
    hid, ks, vs = [], [], []
    for l in range(L):
        p = "model.layers.%d." % l
        hid.append(h.copy())
        x = rms(h, g(p + "input_layernorm.weight"), eps)
        q = x @ g(p + "self_attn.q_proj.weight").T
        k = x @ g(p + "self_attn.k_proj.weight").T
        v = x @ g(p + "self_attn.v_proj.weight").T
        K = np.stack([rope(k[:, j * hd:(j + 1) * hd]) for j in range(nkv)], axis=1)
        V = np.stack([v[:, j * hd:(j + 1) * hd] for j in range(nkv)], axis=1)
        ks.append(K)
        vs.append(V)
        outs = []
        for i in range(nh):
            j = i // (nh // nkv)
            qi = rope(q[:, i * hd:(i + 1) * hd])
            s = qi @ K[:, j].T / np.sqrt(hd)
            s = s + np.triu(np.full((T, T), -np.inf), 1)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s /= s.sum(axis=1, keepdims=True)
            outs.append(s @ V[:, j])
        h = h + np.concatenate(outs, axis=1) @ g(p + "self_attn.o_proj.weight").T
        x = rms(h, g(p + "post_attention_layernorm.weight"), eps)
        a = x @ g(p + "mlp.gate_proj.weight").T
        u = x @ g(p + "mlp.up_proj.weight").T
        h = h + ((a / (1 + np.exp(-a))) * u) @ g(p + "mlp.down_proj.weight").T
    logits = rms(h, g("model.norm.weight"), eps) @ g("lm_head.weight").T
    return logits, ks, vs, hid


def relerr(a, b):
    a = a.astype(np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def check(d):
    cfg = json.load(open(os.path.join(d, "config.json")))
    W, meta = read_st(os.path.join(d, "model.safetensors"))
    assert meta == {"format": "pt"}, meta
    assert all(w.dtype == np.float16 for w in W.values())
    Fx, _ = read_st(os.path.join(d, "fixtures.safetensors"))
    worst = 0.0
    i = 0
    while "input_ids.%d" % i in Fx:
        ids = Fx["input_ids.%d" % i].astype(np.int64)
        logits, ks, vs, hid = forward(W, cfg, ids)
        e = [relerr(Fx["logits.%d" % i], logits)]
        for l in range(cfg["num_hidden_layers"]):
            e += [relerr(Fx["k.%d.%d" % (i, l)], ks[l]), relerr(Fx["v.%d.%d" % (i, l)], vs[l]),
                  relerr(Fx["hidden.%d.%d" % (i, l)], hid[l])]
        worst = max(worst, max(e))
        i += 1
    ok = i > 0 and worst < 1e-4
    print("%-40s inputs %d  max rel err (max|diff|/max|ref|) %.2e  %s" % (
        d, i, worst, "OK" if ok else "FAIL"))
    return ok


def main():
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    dirs = sys.argv[1:] or sorted(os.path.dirname(p) for p in glob.glob(
        os.path.join(here, "examples", "models", "*", "model.safetensors")))
    ok = all([check(d) for d in dirs]) and bool(dirs)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
