#!/usr/bin/env python3
"""Exports small random-weight models of the common transformer families with
torch.onnx.export(dynamo=True), both attention implementations, plus their
reference outputs from PyTorch, in the ONNX backend-test layout.

Needs torch, transformers and onnxscript (not used by CI: the outputs are
committed). Run: python3 test/models/families/make_families.py [names...]
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
COMMON = dict(vocab_size=256, hidden_size=64, intermediate_size=128,
              num_hidden_layers=2, num_attention_heads=4,
              max_position_embeddings=64)

FAMILIES = {
    # q/k/v projections with bias, GQA
    "qwen2": (transformers.Qwen2Config, dict(num_key_value_heads=2)),
    # sliding-window attention (window 8 < the 16-token test sequence)
    "mistral": (transformers.MistralConfig, dict(num_key_value_heads=2, sliding_window=8)),
    # fused qkv and gate_up projections
    "phi3": (transformers.Phi3Config, dict(num_key_value_heads=2, pad_token_id=0)),
    # scaled embeddings, (1 + w) RMSNorm, tanh-GELU gating, head_dim 16
    "gemma": (transformers.GemmaConfig, dict(num_key_value_heads=1, head_dim=16,
                                             hidden_activation="gelu_pytorch_tanh")),
    # parallel residual, partial rotary (25%), LayerNorm
    "gpt-neox": (transformers.GPTNeoXConfig, dict(rotary_pct=0.25, use_parallel_residual=True)),
    # encoder with a padding mask input (output: last hidden state)
    "bert": (transformers.BertConfig, dict()),
}


class Encoder(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids,
                          attention_mask=attention_mask).last_hidden_state


class LogitsOnly(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids, use_cache=False).logits


def randomize(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name or "ln" in name:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.05)


def save_tensor(array, name, path):
    t = numpy_helper.from_array(array, name)
    with open(path, "wb") as f:
        f.write(t.SerializeToString())


def export(name, attn):
    config_class, extra = FAMILIES[name]
    config = config_class(**COMMON, **extra)
    torch.manual_seed(0)
    encoder = name == "bert"
    auto = transformers.AutoModel if encoder else transformers.AutoModelForCausalLM
    model = auto.from_config(config, attn_implementation=attn,
                             torch_dtype=torch.float32)
    randomize(model)
    model.eval()
    wrapped = Encoder(model) if encoder else LogitsOnly(model)
    out_dir = os.path.join(HERE, f"{name}-{attn}")
    os.makedirs(out_dir, exist_ok=True)
    ids = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(1))
    batch, seq = torch.export.Dim("batch", max=8), torch.export.Dim("seq", max=64)
    names = ["input_ids"] + (["attention_mask"] if encoder else [])
    args = (ids, torch.ones(2, 16, dtype=torch.int64)) if encoder else (ids,)
    program = torch.onnx.export(wrapped, args, dynamo=True, input_names=names,
                                output_names=["output" if encoder else "logits"],
                                dynamic_shapes=tuple({0: batch, 1: seq} for _ in names))
    program.save(os.path.join(out_dir, "model.onnx"))
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump({"family": name, "attn_implementation": attn,
                   "transformers": transformers.__version__, "torch": torch.__version__,
                   **json.loads(config.to_json_string())}, f, indent=1, sort_keys=True)
    for k, shape in enumerate([(2, 16), (1, 11)]):
        d = os.path.join(out_dir, f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        x = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(10 + k))
        inputs = [x]
        if encoder:
            mask = torch.ones(shape, dtype=torch.int64)
            mask[0, shape[1] - 5:] = 0  # row 0 padded at the end
            inputs.append(mask)
        with torch.no_grad():
            y = wrapped(*inputs).numpy().astype(np.float32)
        for i, (n, v) in enumerate(zip(names, inputs)):
            save_tensor(v.numpy().astype(np.int64), n, os.path.join(d, f"input_{i}.pb"))
        save_tensor(y, "output" if encoder else "logits", os.path.join(d, "output_0.pb"))
    print(f"exported {name}-{attn}")


def main():
    names = sys.argv[1:] or list(FAMILIES)
    for name in names:
        for attn in ("eager", "sdpa"):
            export(name, attn)


if __name__ == "__main__":
    main()
