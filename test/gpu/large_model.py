#!/usr/bin/env python3
"""On the GPU machine: exports a Llama-3.2-1B-shaped model (16 layers,
d=2048, 32 query / 8 KV heads, FFN 8192, vocabulary 128256, tied
embeddings, random weights, fp32: 5 GB of external data) with the dynamo
exporter, computes its reference logits with PyTorch on the GPU, then runs
the kuai bundle on it: import + kuai-raise (time, peak memory, op histogram,
--require-raised) and the reference executor after raising against
PyTorch's logits. Writes a report.

    python3 test/gpu/large_model.py --bundle kuai-bundle --work big-model --out $OUT
"""
import argparse
import os
import resource
import subprocess
import sys
import time

import torch
import transformers


sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "models", "families"))
from make_families import LogitsOnly, save_tensor as save  # noqa: E402


def measured(cmd, **kwargs):
    """Runs cmd in a fresh Python whose only child is cmd, so its peak RSS
    is the command's own (this process's children include PyTorch's)."""
    probe = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
             "sys.exit(r.returncode)")
    r = subprocess.run([sys.executable, "-c", probe, *cmd], text=True, **kwargs)
    lines = r.stderr.strip().splitlines()
    peak = int(lines[-1]) / 1024 if lines and lines[-1].isdigit() else float("nan")
    return r, peak, "\n".join(lines[:-1])


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bundle", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--out", required=True)
    args = p.parse_args()
    os.makedirs(args.work, exist_ok=True)
    report = []

    def say(line):
        print(line, flush=True)
        report.append(line)
        with open(os.path.join(args.out, "large-model.txt"), "w") as f:
            f.write("\n".join(report) + "\n")

    config = transformers.LlamaConfig(
        vocab_size=128256, hidden_size=2048, intermediate_size=8192,
        num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
        tie_word_embeddings=True, max_position_embeddings=4096, rope_theta=500000.0)
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(config).eval()
    wrapped = LogitsOnly(model)
    params = sum(p.numel() for p in model.parameters())
    say(f"model: Llama-3.2-1B shape, {params / 1e9:.2f}B parameters, fp32, "
        f"torch {torch.__version__}, transformers {transformers.__version__}")
    path = os.path.join(args.work, "model.onnx")
    say(f"device: {torch.cuda.get_device_name(0)}")
    start = time.time()
    ids = torch.randint(0, 128256, (1, 8))
    batch, seq = torch.export.Dim("batch", max=64), torch.export.Dim("seq", max=4096)
    program = torch.onnx.export(wrapped, (ids,), dynamo=True, input_names=["input_ids"],
                                output_names=["logits"], dynamic_shapes=({0: batch, 1: seq},))
    program.save(path, external_data=True)
    data = sum(os.path.getsize(os.path.join(args.work, f)) for f in os.listdir(args.work))
    say(f"exported with torch.onnx.export(dynamo=True) in {time.time() - start:.0f} s, "
        f"{data / 1e9:.2f} GB on disk (external data)")
    sets = os.path.join(args.work, "test_data_set_0")
    os.makedirs(sets, exist_ok=True)
    x = torch.randint(0, 128256, (1, 8), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        y = wrapped.cuda()(x.cuda()).float().cpu().numpy()
    save(x.numpy(), "input_ids", os.path.join(sets, "input_0.pb"))
    save(y, "logits", os.path.join(sets, "output_0.pb"))
    del model, wrapped, program
    torch.cuda.empty_cache()

    compile_ = os.path.join(args.bundle, "bin", "kuai-compile")
    run = os.path.join(args.bundle, "bin", "kuai-run")
    start = time.time()
    r, peak, err = measured([compile_, path, "--emit=transformer", "--stats",
                             "--require-raised"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    say(f"kuai-compile --emit=transformer: exit {r.returncode}, {time.time() - start:.1f} s, "
        f"peak RSS {peak:.0f} MiB (weights {data / 2**20:.0f} MiB)")
    for line in err.splitlines():
        if any(k in line for k in ("attention", "rms_norm", "rotary", "linear", "glu",
                                   "embedding", "softmax", "matmul", "total", "error", "  kuai")):
            say("  " + line.strip())
    start = time.time()
    r, peak, err = measured([run, path, "--raise", "--expect", sets],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    say(f"kuai-run --raise --expect (reference executor, {os.cpu_count()} cores): exit "
        f"{r.returncode}, {time.time() - start:.1f} s, peak RSS {peak:.0f} MiB")
    for line in (r.stdout + err).splitlines():
        if line.startswith(("compare", "ran on", "PASS", "FAIL", "kuai-run: error")):
            say("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
