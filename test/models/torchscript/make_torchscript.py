#!/usr/bin/python3
"""Exports small model definitions of the project's own with the legacy
TorchScript exporter of torch 1.13 (Debian's python3-torch), which users'
older exports come from: opset 14, so LayerNorm is written out, and masks,
RoPE and attention take the forms that exporter writes. llama-past-like is
llama-like (the same weights) exported with explicit KV tensors, as
use_cache=True exports are: inputs past_key_values.N.key/value, outputs
present.N.key/value, Concat of past and new keys, positions and the causal
mask offset by the past length.

Run with Debian's Python (python3-torch, python3-onnx):
    /usr/bin/python3 test/models/torchscript/make_torchscript.py
"""
import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB, DIM, HEADS, LAYERS, MAXPOS = 128, 64, 4, 2, 64


class Attention(torch.nn.Module):
    def __init__(self, kv_heads=HEADS, bias=True, rope=False, rotary_dim=None,
                 fused_qkv=False, out_bias=None):
        super().__init__()
        self.hd = DIM // HEADS
        self.kv = kv_heads
        self.fused = fused_qkv
        kv_dim = kv_heads * self.hd
        if fused_qkv:
            self.qkv = torch.nn.Linear(DIM, DIM + 2 * kv_dim, bias=bias)
        else:
            self.q = torch.nn.Linear(DIM, DIM, bias=bias)
            self.k = torch.nn.Linear(DIM, kv_dim, bias=bias)
            self.v = torch.nn.Linear(DIM, kv_dim, bias=bias)
        self.o = torch.nn.Linear(DIM, DIM, bias=bias if out_bias is None else out_bias)
        self.rope = rope
        self.rd = rotary_dim or self.hd
        if rope:
            inv = 1.0 / (10000 ** (torch.arange(0, self.rd, 2).float() / self.rd))
            self.register_buffer("inv_freq", inv)

    @staticmethod
    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    def forward(self, x, bias):
        b, t, _ = x.shape
        if self.fused:
            kv_dim = self.kv * self.hd
            q, k, v = self.qkv(x).split([DIM, kv_dim, kv_dim], dim=-1)
        else:
            q, k, v = self.q(x), self.k(x), self.v(x)
        q = q.view(b, t, HEADS, self.hd).transpose(1, 2)
        k = k.view(b, t, self.kv, self.hd).transpose(1, 2)
        v = v.view(b, t, self.kv, self.hd).transpose(1, 2)
        if self.rope:
            pos = torch.arange(t, dtype=torch.float32)
            freqs = torch.outer(pos, self.inv_freq)
            emb = torch.cat((freqs, freqs), dim=-1)
            cos, sin = emb.cos()[None, None], emb.sin()[None, None]
            rd = self.rd

            def rotate(z):
                r = z[..., :rd] * cos + self.rotate_half(z[..., :rd]) * sin
                return r if rd == self.hd else torch.cat((r, z[..., rd:]), dim=-1)
            q, k = rotate(q), rotate(k)
        if self.kv != HEADS:
            rep = HEADS // self.kv
            k = k[:, :, None].expand(b, self.kv, rep, t, self.hd).reshape(b, HEADS, t, self.hd)
            v = v[:, :, None].expand(b, self.kv, rep, t, self.hd).reshape(b, HEADS, t, self.hd)
        scores = q @ k.transpose(-2, -1) / math.sqrt(self.hd) + bias
        out = F.softmax(scores, dim=-1) @ v
        return self.o(out.transpose(1, 2).reshape(b, t, DIM))


def causal_bias(t, window=0):
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    if window:
        mask = mask & ~torch.tril(torch.ones(t, t, dtype=torch.bool), diagonal=-window)
    return torch.zeros(t, t).masked_fill(~mask, torch.finfo(torch.float32).min)


class Gpt2Like(torch.nn.Module):
    """Learned positions, LayerNorm, tanh-GELU MLP, causal mask."""

    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, DIM)
        self.wpe = torch.nn.Embedding(MAXPOS, DIM)
        self.blocks = torch.nn.ModuleList()
        for _ in range(LAYERS):
            self.blocks.append(torch.nn.ModuleDict(dict(
                ln1=torch.nn.LayerNorm(DIM), attn=Attention(),
                ln2=torch.nn.LayerNorm(DIM), fc=torch.nn.Linear(DIM, 4 * DIM),
                proj=torch.nn.Linear(4 * DIM, DIM))))
        self.lnf = torch.nn.LayerNorm(DIM)

    def forward(self, ids):
        t = ids.shape[1]
        x = self.wte(ids) + self.wpe(torch.arange(t))[None]
        bias = causal_bias(t)
        for blk in self.blocks:
            x = x + blk["attn"](blk["ln1"](x), bias)
            x = x + blk["proj"](F.gelu(blk["fc"](blk["ln2"](x)), approximate="tanh"))
        return self.lnf(x) @ self.wte.weight.t()


class BertLike(torch.nn.Module):
    """Encoder with a padding mask input, post-LayerNorm, erf-GELU."""

    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, DIM)
        self.wpe = torch.nn.Embedding(MAXPOS, DIM)
        self.ln = torch.nn.LayerNorm(DIM)
        self.blocks = torch.nn.ModuleList()
        for _ in range(LAYERS):
            self.blocks.append(torch.nn.ModuleDict(dict(
                attn=Attention(), ln1=torch.nn.LayerNorm(DIM),
                fc=torch.nn.Linear(DIM, 4 * DIM), proj=torch.nn.Linear(4 * DIM, DIM),
                ln2=torch.nn.LayerNorm(DIM))))

    def forward(self, ids, attention_mask):
        t = ids.shape[1]
        x = self.ln(self.wte(ids) + self.wpe(torch.arange(t))[None])
        bias = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for blk in self.blocks:
            x = blk["ln1"](x + blk["attn"](x, bias))
            x = blk["ln2"](x + blk["proj"](F.gelu(blk["fc"](x))))
        return x


class RmsNorm(torch.nn.Module):
    def __init__(self, unit_offset=False):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(DIM))
        self.unit_offset = unit_offset

    def forward(self, x):
        n = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6)
        return n * (1.0 + self.w) if self.unit_offset else self.w * n


class LlamaLike(torch.nn.Module):
    """RMSNorm (rsqrt), RoPE, GQA (2 KV heads), SwiGLU, causal mask."""

    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, DIM)
        self.blocks = torch.nn.ModuleList()
        for _ in range(LAYERS):
            self.blocks.append(torch.nn.ModuleDict(dict(
                n1=RmsNorm(), attn=Attention(kv_heads=2, bias=False, rope=True),
                n2=RmsNorm(), gate=torch.nn.Linear(DIM, 2 * DIM, bias=False),
                up=torch.nn.Linear(DIM, 2 * DIM, bias=False),
                down=torch.nn.Linear(2 * DIM, DIM, bias=False))))
        self.nf = RmsNorm()
        self.head = torch.nn.Linear(DIM, VOCAB, bias=False)

    def forward(self, ids):
        x = self.wte(ids)
        bias = causal_bias(ids.shape[1])
        for blk in self.blocks:
            x = x + blk["attn"](blk["n1"](x), bias)
            h = blk["n2"](x)
            x = x + blk["down"](F.silu(blk["gate"](h)) * blk["up"](h))
        return self.head(self.nf(x))


class PastAttention(Attention):
    """Attention with the past keys and values as inputs (GQA, RoPE)."""

    def forward(self, x, past_k, past_v):
        b, t, _ = x.shape
        q = self.q(x).view(b, t, HEADS, self.hd).transpose(1, 2)
        k = self.k(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v(x).view(b, t, self.kv, self.hd).transpose(1, 2)
        p = past_k.shape[2]
        pos = torch.arange(p, p + t, dtype=torch.float32)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        q = q * cos + self.rotate_half(q) * sin
        k = torch.cat((past_k, k * cos + self.rotate_half(k) * sin), dim=2)
        v = torch.cat((past_v, v), dim=2)
        total, rep = p + t, HEADS // self.kv
        kk = k[:, :, None].expand(b, self.kv, rep, total, self.hd).reshape(b, HEADS, total, self.hd)
        vv = v[:, :, None].expand(b, self.kv, rep, total, self.hd).reshape(b, HEADS, total, self.hd)
        mask = torch.tril(torch.ones(t, total, dtype=torch.bool), diagonal=p)
        bias = torch.zeros(t, total).masked_fill(~mask, torch.finfo(torch.float32).min)
        scores = q @ kk.transpose(-2, -1) / math.sqrt(self.hd) + bias
        out = F.softmax(scores, dim=-1) @ vv
        return self.o(out.transpose(1, 2).reshape(b, t, DIM)), k, v


class LlamaPastLike(LlamaLike):
    """LlamaLike with past_key_values inputs and present outputs; the same
    parameters in the same order, so randomize() gives the same weights."""

    def __init__(self):
        super().__init__()
        for blk in self.blocks:
            blk["attn"] = PastAttention(kv_heads=2, bias=False, rope=True)

    def forward(self, ids, *past):
        x = self.wte(ids)
        presents = []
        for i, blk in enumerate(self.blocks):
            a, k, v = blk["attn"](blk["n1"](x), past[2 * i], past[2 * i + 1])
            presents += [k, v]
            x = x + a
            h = blk["n2"](x)
            x = x + blk["down"](F.silu(blk["gate"](h)) * blk["up"](h))
        return (self.head(self.nf(x)), *presents)


def export_past(name, model):
    """Inputs ids [batch, seq] and past [batch, kv, past, hd] per layer; test
    data: 3 new tokens after a past of 5 that the model itself produced, and
    a prompt of 7 after an empty past."""
    torch.manual_seed(0)
    randomize(model)
    model.eval()
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    kv = [f"{i}.{t}" for i in range(LAYERS) for t in ("key", "value")]
    names = ["input_ids"] + [f"past_key_values.{n}" for n in kv]
    outputs = ["logits"] + [f"present.{n}" for n in kv]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "logits": {0: "batch", 1: "seq"}}
    axes.update({n: {0: "batch", 2: "past_sequence_length"} for n in names[1:]})
    axes.update({n: {0: "batch", 2: "total_sequence_length"} for n in outputs[1:]})
    hd = DIM // HEADS
    empty = lambda b: [torch.zeros(b, 2, 0, hd) for _ in kv]
    example = (torch.randint(0, VOCAB, (2, 3)), *[torch.randn(2, 2, 5, hd) for _ in kv])
    torch.onnx.export(model, example, os.path.join(out, "model.onnx"), opset_version=14,
                      input_names=names, output_names=outputs, dynamic_axes=axes)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"model": type(model).__name__, "past_present": True, "num_layers": LAYERS,
                   "hidden": DIM, "heads": HEADS, "kv_heads": 2, "vocab": VOCAB,
                   "same_weights_as": "llama-like",
                   "exporter": "torch.onnx.export (TorchScript)", "torch": torch.__version__,
                   "opset": 14}, f, indent=1)
    for k, (b, p, t) in enumerate([(2, 5, 3), (1, 0, 7)]):
        d = os.path.join(out, f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        g = torch.Generator().manual_seed(20 + k)
        with torch.no_grad():
            past = empty(b)
            if p:
                prefix = torch.randint(0, VOCAB, (b, p), generator=g)
                past = list(model(prefix, *empty(b))[1:])
            x = torch.randint(0, VOCAB, (b, t), generator=g)
            ys = model(x, *past)
        for i, (n, v) in enumerate(zip(names, [x] + past)):
            save(v.numpy(), n, os.path.join(d, f"input_{i}.pb"))
        for i, (n, v) in enumerate(zip(outputs, ys)):
            save(v.numpy().astype(np.float32), n, os.path.join(d, f"output_{i}.pb"))
    print("exported", name)


class Decoder(torch.nn.Module):
    """Llama-shaped decoder with the per-family differences as options:
    Qwen2 (q/k/v bias), Mistral (sliding window), Phi-3 (fused qkv and
    gate_up), Gemma (scaled embeddings, (1 + w) RMSNorm, tanh-GELU gating)."""

    def __init__(self, qkv_bias=False, window=0, fused=False, gemma=False):
        super().__init__()
        self.window, self.fused, self.gemma = window, fused, gemma
        self.wte = torch.nn.Embedding(VOCAB, DIM)
        self.blocks = torch.nn.ModuleList()
        for _ in range(LAYERS):
            mlp = dict(gate_up=torch.nn.Linear(DIM, 4 * DIM, bias=False)) if fused else dict(
                gate=torch.nn.Linear(DIM, 2 * DIM, bias=False),
                up=torch.nn.Linear(DIM, 2 * DIM, bias=False))
            self.blocks.append(torch.nn.ModuleDict(dict(
                n1=RmsNorm(gemma), n2=RmsNorm(gemma),
                attn=Attention(kv_heads=2, bias=qkv_bias, rope=True, fused_qkv=fused,
                               out_bias=False),
                down=torch.nn.Linear(2 * DIM, DIM, bias=False), **mlp)))
        self.nf = RmsNorm(gemma)

    def forward(self, ids):
        x = self.wte(ids)
        if self.gemma:
            x = x * math.sqrt(DIM)
        bias = causal_bias(ids.shape[1], self.window)
        for blk in self.blocks:
            x = x + blk["attn"](blk["n1"](x), bias)
            h = blk["n2"](x)
            if self.fused:
                gate, up = blk["gate_up"](h).chunk(2, dim=-1)
            else:
                gate, up = blk["gate"](h), blk["up"](h)
            act = F.gelu(gate, approximate="tanh") if self.gemma else F.silu(gate)
            x = x + blk["down"](act * up)
        return self.nf(x) @ self.wte.weight.t()


class NeoxLike(torch.nn.Module):
    """GPT-NeoX: LayerNorm, parallel residual, partial rotary (25%), GELU."""

    def __init__(self):
        super().__init__()
        self.wte = torch.nn.Embedding(VOCAB, DIM)
        self.blocks = torch.nn.ModuleList()
        for _ in range(LAYERS):
            self.blocks.append(torch.nn.ModuleDict(dict(
                ln1=torch.nn.LayerNorm(DIM), ln2=torch.nn.LayerNorm(DIM),
                attn=Attention(rope=True, rotary_dim=(DIM // HEADS) // 4, fused_qkv=True),
                fc=torch.nn.Linear(DIM, 4 * DIM), proj=torch.nn.Linear(4 * DIM, DIM))))
        self.lnf = torch.nn.LayerNorm(DIM)
        self.head = torch.nn.Linear(DIM, VOCAB, bias=False)

    def forward(self, ids):
        x = self.wte(ids)
        bias = causal_bias(ids.shape[1])
        for blk in self.blocks:
            x = x + blk["attn"](blk["ln1"](x), bias) + blk["proj"](F.gelu(blk["fc"](blk["ln2"](x))))
        return self.head(self.lnf(x))


def randomize(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".w") and getattr(model, "gemma", False):
                p.copy_(torch.rand(p.shape, generator=g) - 0.5)  # 1 + w in [0.5, 1.5]
            elif name.endswith(".w") or ".ln" in name or name.startswith("ln"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.1)


def save(array, name, path):
    with open(path, "wb") as f:
        f.write(numpy_helper.from_array(array, name).SerializeToString())


def export(name, model, with_mask):
    torch.manual_seed(0)
    randomize(model)
    model.eval()
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    names = ["input_ids"] + (["attention_mask"] if with_mask else [])
    axes = {n: {0: "batch", 1: "seq"} for n in names + ["logits"]}
    ids = torch.randint(0, VOCAB, (2, 16))
    args = (ids, torch.ones(2, 16, dtype=torch.int64)) if with_mask else (ids,)
    torch.onnx.export(model, args, os.path.join(out, "model.onnx"), opset_version=14,
                      input_names=names, output_names=["logits"], dynamic_axes=axes)
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump({"model": type(model).__name__, "num_layers": LAYERS, "hidden": DIM,
                   "heads": HEADS, "vocab": VOCAB, "exporter": "torch.onnx.export (TorchScript)",
                   "torch": torch.__version__, "opset": 14}, f, indent=1)
    for k, (b, t) in enumerate([(2, 16), (1, 11)]):
        d = os.path.join(out, f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        g = torch.Generator().manual_seed(10 + k)
        x = torch.randint(0, VOCAB, (b, t), generator=g)
        inputs = [x]
        if with_mask:
            m = torch.ones(b, t, dtype=torch.int64)
            m[0, t - 5:] = 0  # row 0 padded at the end
            inputs.append(m)
        with torch.no_grad():
            y = model(*inputs).numpy().astype(np.float32)
        for i, (n, v) in enumerate(zip(names, inputs)):
            save(v.numpy(), n, os.path.join(d, f"input_{i}.pb"))
        save(y, "logits", os.path.join(d, "output_0.pb"))
    print("exported", name)


if __name__ == "__main__":
    export("gpt2-like", Gpt2Like(), False)
    export("bert-like", BertLike(), True)
    export("llama-like", LlamaLike(), False)
    export("qwen2-like", Decoder(qkv_bias=True), False)
    export("mistral-like", Decoder(window=4), False)
    export("phi3-like", Decoder(fused=True), False)
    export("gemma-like", Decoder(gemma=True), False)
    export("neox-like", NeoxLike(), False)
    export_past("llama-past-like", LlamaPastLike())
