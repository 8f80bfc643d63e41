#!/usr/bin/env python3
"""Prefill attention benchmark on the GPU machine: kuai's flash attention
template (lib/Codegen/templates/flash_attn_fwd_f16.cu, NVRTC) next to
PyTorch's scaled_dot_product_attention (flash backend) in the same process:
causal, grouped-query (32 query / 8 KV heads, head dim 128: Llama-3-8B),
fp16. Correctness against an fp32 reference.

    python3 bench/attention_bench.py --out $OUT/attention.md
"""
import argparse
import os
import sys

import cupy
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gemm_bench import TEMPLATES, rel_error, timed, write_table  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--commit", default="unknown")
    args = p.parse_args()
    d, hq, hkv = 128, 32, 8
    with open(os.path.join(TEMPLATES, "flash_attn_fwd_f16.cu")) as f:
        module = cupy.RawModule(code=f.read(),
                                options=("-arch=sm_90", f"-DHEAD_DIM={d}", "-DCAUSAL=1",
                                         f"-I{TEMPLATES}"),
                                backend="nvrtc")
    kernel = module.get_function("kuai_flash_attn_fwd_f16")
    smem = 3 * 64 * (d + 8) * 2
    kernel.max_dynamic_shared_size_bytes = smem
    rows = ["# Prefill attention: kuai flash template vs PyTorch SDPA\n",
            f"device: {torch.cuda.get_device_name(0)}; date: 2026-11-22; commit: "
            f"{args.commit}; torch {torch.__version__}; causal, {hq} query / {hkv} KV "
            f"heads, head dim {d}, fp16\n",
            "| batch | seq | kuai µs | SDPA µs | kuai / SDPA (speed) | kuai TFLOP/s | "
            "rel. L2 kuai vs fp32 | rel. L2 SDPA vs fp32 |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    torch.manual_seed(0)
    for b, s in [(1, 512), (1, 2048), (8, 512), (8, 2048), (1, 8192)]:
        q = torch.randn(b, hq, s, d, device="cuda", dtype=torch.float16)
        k = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.float16)
        v = torch.randn(b, hkv, s, d, device="cuda", dtype=torch.float16)
        o = torch.empty_like(q)
        o.fill_(float("nan"))
        cq, ck, cv, co = (cupy.from_dlpack(t) for t in (q, k, v, o))
        scale = d ** -0.5

        def run_kuai():
            kernel((s // 64, b * hq), (128,), (cq, ck, cv, co, cupy.int32(s),
                                               cupy.int32(hq), cupy.int32(hkv),
                                               cupy.float32(scale)), shared_mem=smem)

        def run_sdpa():
            F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)

        run_kuai()
        ref = F.scaled_dot_product_attention(q.float(), k.float(), v.float(),
                                             is_causal=True, enable_gqa=True)
        sdpa = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        torch.cuda.synchronize()
        tk, ts = timed(run_kuai), timed(run_sdpa)
        flop = 4 * b * hq * s * s * d / 2
        rows.append(f"| {b} | {s} | {tk * 1e6:.0f} | {ts * 1e6:.0f} | {ts / tk:.2f} | "
                    f"{flop / tk / 1e12:.0f} | {rel_error(o, ref):.1e} | {rel_error(sdpa, ref):.1e} |")
        print(rows[-1], flush=True)
    write_table(args.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
