#!/usr/bin/env python3
"""Whole-model benchmark on the GPU machine: kuai next to PyTorch eager and
torch.compile(mode="max-autotune"), fp16, in one run.

Models (random weights, made here with transformers, exported with the
dynamo exporter with dynamic batch and seq):
  * a BERT-base-shaped encoder (12 layers, d=768, 12 heads, ffn 3072) at
    batch 1 x seq 128 and batch 32 x seq 128 (input_ids + attention_mask);
  * a GPT-2-small-shaped decoder (12 layers, d=768) forward at 1 x 512.
kuai: kuai-compile --emit=artifact with the batch and seq of the run as
bounds, kuai-run --bench (median wall time of one run: input upload, the
plan's launches as one CUDA graph, synchronize). PyTorch: the median wall
time of model(...) + torch.cuda.synchronize() with inputs on the GPU.
Each is timed --rounds times, in turn (torch.compile's time moves between
runs by more than some of the differences measured); the tables give the
median of the rounds and their spread.
Every kuai output is compared with eager's (relative L2).

    python3 bench/model_bench.py --bundle build-gpu/kuai-bundle \
        --work build-gpu/bench --out $OUT/models.md [--no-compile] \
        [--variant NAME=TEMPLATE_DIR ...] [--variant-flags NAME="FLAGS" ...]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import torch
import transformers

PEAK_TFLOPS = 757.0  # cuBLAS fp16 measured on this H100 (DESIGN.md)
PEAK_TBS = 3.0  # device copy, read + write


def randomize(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "ln_" in name:
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)


class Encoder(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids, attention_mask):
        return self.m(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


class Logits(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return self.m(input_ids=input_ids, use_cache=False).logits


def make(name):
    if name == "bert":
        config = transformers.BertConfig(hidden_size=768, num_hidden_layers=12,
                                         num_attention_heads=12, intermediate_size=3072)
        model = transformers.BertModel(config, add_pooling_layer=False)
        wrap = Encoder
    else:
        config = transformers.GPT2Config(n_embd=768, n_layer=12, n_head=12, n_positions=1024)
        model = transformers.GPT2LMHeadModel(config)
        wrap = Logits
    config._attn_implementation = "sdpa"
    randomize(model)
    return wrap(model.half().cuda().eval()), config


def export(module, name, path):
    batch, seq = torch.export.Dim("batch", max=64), torch.export.Dim("seq", max=512)
    ids = torch.randint(0, 1000, (2, 16), device="cuda")
    names = ["input_ids"] + (["attention_mask"] if name == "bert" else [])
    args = (ids, torch.ones_like(ids)) if name == "bert" else (ids,)
    program = torch.onnx.export(module, args, dynamo=True, input_names=names,
                                output_names=["output"],
                                dynamic_shapes=tuple({0: batch, 1: seq} for _ in names))
    program.save(path)


def median_of(kuai_run_stdout):
    """The median time kuai-run --bench prints, or NaN."""
    m = re.search(r"median ([0-9.]+) ms", kuai_run_stdout)
    return float(m.group(1)) if m else float("nan")


def wall_ms(fn, iters):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def flops(config, name, batch, seq):
    d, layers = config.hidden_size, config.num_hidden_layers
    ffn = config.intermediate_size if name == "bert" else 4 * d
    per_token = layers * (2 * (4 * d * d + 2 * d * ffn) + 4 * seq * d)
    total = batch * seq * per_token
    if name == "gpt2":
        total += 2 * batch * seq * d * config.vocab_size
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--iters", type=int, default=50)
    ap.add_argument("--no-compile", action="store_true",
                    help="skip torch.compile (it autotunes for minutes)")
    ap.add_argument("--configs", default="bert:1:128,bert:32:128,gpt2:1:512")
    ap.add_argument("--profile", action="store_true",
                    help="also print kuai-run --profile (kernel table) per config")
    ap.add_argument("--rounds", type=int, default=3,
                    help="timing rounds per config (kuai, its variants, eager "
                         "and torch.compile in turn each round); medians reported")
    ap.add_argument("--variant", action="append", default=[],
                    metavar="NAME=DIR",
                    help="also time kuai compiled with --template-dir=DIR "
                         "(kernel templates under development), per config")
    ap.add_argument("--variant-flags", action="append", default=[],
                    metavar="NAME=FLAGS",
                    help="also time kuai compiled with these extra kuai-compile "
                         "flags (space-separated, e.g. "
                         "sep=--hopper-activation=separate), per config")
    args = ap.parse_args()
    variants = [tuple(v.split("=", 1)) for v in args.variant]
    if any(len(v) != 2 or not os.path.isdir(v[1]) for v in variants):
        ap.error("--variant expects NAME=DIR with an existing DIR")
    variants = [(name, ["--template-dir=" + d]) for name, d in variants]
    for v in args.variant_flags:
        name, sep, flags = v.partition("=")
        if not sep or not name or not flags.strip():
            ap.error("--variant-flags expects NAME=FLAGS")
        variants.append((name, flags.split()))
    if len({v[0] for v in variants}) != len(variants):
        ap.error("variant names must differ")
    if any(v[0] in ("kuai", "eager", "compile") for v in variants):
        ap.error("--variant names kuai, eager and compile are taken")
    if args.rounds < 1:
        ap.error("--rounds must be at least 1")
    os.makedirs(args.work, exist_ok=True)
    compile_bin = os.path.join(args.bundle, "bin", "kuai-compile")
    run_bin = os.path.join(args.bundle, "bin", "kuai-run")
    rows = []
    models = {}

    def write_results():
        """(Re)writes --out with the configs done so far: a run cut short
        (device time, a peer's long autotuning) keeps what it measured."""
        dev = torch.cuda.get_device_name()
        with open(args.out, "w") as f:
            f.write(f"# Whole-model latency, fp16: kuai vs PyTorch eager vs torch.compile\n\n"
                    f"- device: {dev}\n- date: {time.strftime('%Y-%m-%d')}\n"
                    f"- torch {torch.__version__}, transformers {transformers.__version__}\n"
                    f"- commit: {os.environ.get('KUAI_COMMIT', 'unknown')}\n"
                    f"- median wall time of one forward ({args.iters} runs after 3 warm-up), "
                    f"median over {args.rounds} rounds (each build and peer once a round, "
                    "in turn; spread below)\n\n"
                    "| model | batch x seq | kuai ms | eager ms | torch.compile ms | torch.compile / kuai time "
                    "| kuai TFLOP/s (% of 757) | kuai weights GB/s (% of 3000) | kuai rel L2 vs eager |\n"
                    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
            for r in rows:
                tf = r["flops"] / r["kuai_ms"] / 1e9
                gbs = r["weight_bytes"] / r["kuai_ms"] / 1e6
                ratio = r["compile_ms"] / r["kuai_ms"]
                f.write(f"| {r['model']} | {r['batch']}x{r['seq']} | {r['kuai_ms']:.3f} | "
                        f"{r['eager_ms']:.3f} | {r['compile_ms']:.3f} ({r['compile_note']}) | "
                        f"{ratio:.2f}x | {tf:.1f} ({100 * tf / PEAK_TFLOPS:.1f}%) | "
                        f"{gbs:.0f} ({100 * gbs / 1000 / PEAK_TBS:.1f}%) | {r['rel_l2']:.2e} |\n")
            f.write("\nSpread over the rounds (min .. max of the round medians, ms):\n\n"
                    "| model | batch x seq | kuai | eager | torch.compile |\n"
                    "| --- | --- | --- | --- | --- |\n")
            for r in rows:
                spread = [f"{min(r['rounds'][k]):.3f} .. {max(r['rounds'][k]):.3f}"
                          if r["rounds"][k] else "-" for k in ("kuai", "eager", "compile")]
                f.write(f"| {r['model']} | {r['batch']}x{r['seq']} | " + " | ".join(spread) + " |\n")
            if variants:
                f.write("\nkuai variants, same run ("
                        + "; ".join(f"{v}: {' '.join(fl)}" for v, fl in variants)
                        + "):\n\n| model | batch x seq | "
                        "kuai ms (built-in) | "
                        + " | ".join(f"{v} ms (rel L2)" for v, _ in variants)
                        + " |\n|" + " --- |" * (3 + len(variants)) + "\n")
                for r in rows:
                    f.write(f"| {r['model']} | {r['batch']}x{r['seq']} | "
                            f"{r['kuai_ms']:.3f} | "
                            + " | ".join(f"{x['ms']:.3f} ({x['rel_l2']:.1e})"
                                         for x in r["variants"]) + " |\n")

    for spec in args.configs.split(","):
        name, batch, seq = spec.split(":")
        batch, seq = int(batch), int(seq)
        if name not in models:
            module, config = make(name)
            onnx_path = os.path.join(args.work, f"{name}.onnx")
            t = time.time()
            export(module, name, onnx_path)
            print(f"exported {name} in {time.time() - t:.1f} s", flush=True)
            models[name] = (module, config, onnx_path)
        module, config, onnx_path = models[name]
        g = torch.Generator().manual_seed(batch * 1000 + seq)
        ids = torch.randint(0, 1000, (batch, seq), generator=g)
        inputs = [ids] + ([torch.ones_like(ids)] if name == "bert" else [])
        files = []
        for i, x in enumerate(inputs):
            f = os.path.join(args.work, f"{name}-{batch}x{seq}-in{i}.npy")
            np.save(f, x.numpy().astype(np.int64))
            files += ["--input", f]

        def run_kuai(tag, extra_flags):
            """Compiles (with extra kuai-compile flags) and benches one kuai
            build: (ms, path stem of the artifact and its -out directory,
            compile s)."""
            stem = os.path.join(args.work, f"{name}-{batch}x{seq}{tag}")
            t = time.time()
            subprocess.run([compile_bin, onnx_path, "--emit=artifact",
                            "-o", stem + ".kuai", f"--max-batch={batch}",
                            f"--max-seq={seq}"] + extra_flags, check=True)
            compile_s = time.time() - t
            run = subprocess.run([run_bin, stem + ".kuai", *files, "--bench",
                                  str(args.iters), "--save-outputs", stem + "-out"]
                                 + (["--profile"] if args.profile else []),
                                 capture_output=True, text=True)
            print(f"kuai{tag}:", run.stdout[-6000:], run.stderr[-1500:], flush=True)
            return median_of(run.stdout), stem, compile_s

        def rebench_kuai(stem):
            """One more timing round of a compiled build (no outputs saved)."""
            run = subprocess.run([run_bin, stem + ".kuai", *files, "--bench",
                                  str(args.iters)], capture_output=True, text=True)
            return median_of(run.stdout)

        kuai_ms, stem, compile_s = run_kuai("", [])
        outdir = stem + "-out"
        variant_runs = [(v, *run_kuai("-" + v, f)) for v, f in variants]
        gpu_inputs = [x.cuda() for x in inputs]
        with torch.no_grad():
            ref = module(*gpu_inputs).float().cpu().numpy()

            def rel_l2(out_dir):
                got = np.load(os.path.join(out_dir, "output.npy"))
                return float(np.linalg.norm(got - ref) / np.linalg.norm(ref))

            err = rel_l2(outdir)
            eager = lambda: module(*gpu_inputs)  # noqa: E731
            compiled, compile_note = None, "skipped"
            if not args.no_compile:
                torch._dynamo.reset()
                t = time.time()
                compiled = torch.compile(module, mode="max-autotune", dynamic=False)
                compiled(*gpu_inputs)
                compile_note = f"{time.time() - t:.0f} s to compile"
            # Rounds: every build and peer timed once a round, in turn, so
            # that clock and thermal drift fall on all of them alike; the
            # first kuai round is the run above (with outputs and profile).
            rounds = {"kuai": [kuai_ms], "eager": [], "compile": []}
            for v, ms, _, _ in variant_runs:
                rounds[v] = [ms]
            for r in range(args.rounds):
                if r > 0:
                    rounds["kuai"].append(rebench_kuai(stem))
                    for v, _, vstem, _ in variant_runs:
                        rounds[v].append(rebench_kuai(vstem))
                rounds["eager"].append(wall_ms(eager, args.iters))
                if compiled is not None:
                    rounds["compile"].append(
                        wall_ms(lambda: compiled(*gpu_inputs), args.iters))
            kuai_ms = statistics.median(rounds["kuai"])
            eager_ms = statistics.median(rounds["eager"])
            compiled_ms = (statistics.median(rounds["compile"])
                           if rounds["compile"] else float("nan"))
            variant_rows = [dict(variant=v, ms=statistics.median(rounds[v]),
                                 rel_l2=rel_l2(vstem + "-out"))
                            for v, _, vstem, _ in variant_runs]
        fl = flops(config, name, batch, seq)
        weight_bytes = 2 * sum(p.numel() for p in module.parameters())
        row = dict(model=name, batch=batch, seq=seq, kuai_ms=kuai_ms, eager_ms=eager_ms,
                   compile_ms=compiled_ms, compile_note=compile_note, rel_l2=err,
                   kuai_compile_s=compile_s, flops=fl, weight_bytes=weight_bytes,
                   variants=variant_rows, rounds=rounds)
        print(json.dumps(row), flush=True)
        rows.append(row)
        write_results()

    if rows:
        print(open(args.out).read())


if __name__ == "__main__":
    sys.exit(main())
