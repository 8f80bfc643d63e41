#!/usr/bin/env python3
"""GEMM benchmark on the GPU machine: kuai's tensor-core GEMM template
(lib/Codegen/templates/gemm_tn_f16.cu, compiled here with NVRTC through
CuPy) next to cuBLAS (torch.matmul) in the same process, fp16 in, fp32
accumulate, fp16 out: C = A · Wᵀ with W in [out, in] layout.

Shapes: M=N=K=4096 and the projections of a Llama-3-8B layer
(qkv 6144x4096, o 4096x4096, gate_up 28672x4096, down 4096x14336) at
M = 1, 16, 512, 4096. Writes a markdown table with TFLOP/s, the ratio to
cuBLAS and the fraction of the measured 757 TFLOP/s cuBLAS peak.

    python3 bench/gemm_bench.py --out $OUT/gemm.md
"""
import argparse
import os
import subprocess
import sys

import cupy
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPLATES = os.path.join(HERE, "..", "lib", "Codegen", "templates")
BM, STAGES, LDS = 128, 4, 32 + 8
PEAK = 757.0  # TFLOP/s, cuBLAS fp16 measured on this H100 (DESIGN.md)


def timed(fn, iters=30, warmup=5):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2] / 1e3  # median, seconds


def rel_error(out, ref):
    """Relative L2 error of `out` against `ref`; NaN when an element of the
    NaN-poisoned output was left unwritten."""
    if out.isnan().any():
        return float("nan")
    ref = ref.float()
    return ((out.float() - ref).norm() / ref.norm()).item()


def write_table(path, rows):
    with open(path, "w") as f:
        f.write("\n".join(rows) + "\n")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--commit", default="unknown")
    p.add_argument("--bn", type=int, default=128, help="block tile columns (mma.sync)")
    p.add_argument("--kernel", choices=["mma", "gemv"], default="mma")
    p.add_argument("--unroll", type=int, default=4, help="GEMV loads in flight per lane")
    p.add_argument("--rows", default="1,16", help="GEMV row counts")
    args = p.parse_args()
    if args.kernel == "gemv":
        return gemv_main(args)
    if args.kernel == "mma":  # the Hopper linear: bench/gemm_wgmma_bench.cpp
        BN = args.bn
        SMEM = STAGES * (BM + BN) * LDS * 2
        with open(os.path.join(TEMPLATES, "gemm_tn_f16.cu")) as f:
            module = cupy.RawModule(code=f.read(),
                                    options=("-arch=sm_90", "--std=c++17", f"-DBN={BN}",
                                             f"-I{TEMPLATES}"),
                                    backend="nvrtc")
        kernel = module.get_function("kuai_gemm_tn_f16")
        desc = f"mma.sync, block tile {BM}x{BN}x32, 4 stages, 8 warps"
    kernel.max_dynamic_shared_size_bytes = SMEM

    shapes = [("square", 4096, 4096, 4096)]
    for m in (1, 16, 512, 4096):
        shapes += [(f"8B qkv", m, 6144, 4096), (f"8B o", m, 4096, 4096),
                   (f"8B gate_up", m, 28672, 4096), (f"8B down", m, 4096, 14336)]
    name = torch.cuda.get_device_name(0)
    rows = [f"# GEMM: kuai template vs cuBLAS\n",
            f"device: {name}; date: 2026-11-22; commit: {args.commit}; torch "
            f"{torch.__version__} (cuBLAS), CuPy {cupy.__version__}; kuai: {desc}\n",
            "| shape | M | N | K | kuai TFLOP/s | cuBLAS TFLOP/s | kuai / cuBLAS | "
            "kuai % of 757 | rel. L2 vs cuBLAS |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    torch.manual_seed(0)
    for label, m, n, k in shapes:
        a = torch.randn(m, k, device="cuda", dtype=torch.float16)
        w = torch.randn(n, k, device="cuda", dtype=torch.float16) / k ** 0.5
        c = torch.empty(m, n, device="cuda", dtype=torch.float16)
        ca, cw, cc = (cupy.from_dlpack(t) for t in (a, w, c))
        grid = (n // BN, (m + BM - 1) // BM)
        c.fill_(float("nan"))  # every element must be written

        def run_kuai():
            kernel(grid, (256,), (ca, cw, cc, cupy.int32(m), cupy.int32(n), cupy.int32(k)),
                   shared_mem=SMEM)

        def run_cublas():
            torch.matmul(a, w.t())

        run_kuai()
        ref = torch.matmul(a, w.t())
        torch.cuda.synchronize()
        err = rel_error(c, ref)
        flop = 2.0 * m * n * k
        tk, tc = timed(run_kuai), timed(run_cublas)
        fk, fc = flop / tk / 1e12, flop / tc / 1e12
        rows.append(f"| {label} | {m} | {n} | {k} | {fk:.1f} | {fc:.1f} | {fk / fc:.2f} | "
                    f"{100 * fk / PEAK:.1f}% | {err:.1e} |")
        print(rows[-1], flush=True)
    write_table(args.out, rows)
    return 0


def gemv_main(args):
    """Decode shapes (M = 1, 16) with the GEMV template; bandwidth is the
    bytes of W, A and C over the time, next to 3.0 TB/s (device copy)."""
    name = torch.cuda.get_device_name(0)
    rows = [f"# GEMV (M = 1, 16): kuai template vs cuBLAS\n",
            f"device: {name}; date: 2026-11-22; commit: {args.commit}; torch "
            f"{torch.__version__} (cuBLAS), CuPy {cupy.__version__}; kuai: "
            f"gemv_tn_f16 (NVRTC), warp per output column, 16-byte loads, "
            f"{args.unroll} in flight\n",
            "| shape | M | N | K | kuai µs | cuBLAS µs | kuai / cuBLAS (speed) | "
            "kuai GB/s | % of 3.0 TB/s | rel. L2 vs cuBLAS |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    with open(os.path.join(TEMPLATES, "gemv_tn_f16.cu")) as f:
        source = f.read()
    torch.manual_seed(0)
    for m in (int(r) for r in args.rows.split(",")):
        module = cupy.RawModule(code=source, options=("-arch=sm_90", f"-DROWS={m}",
                                                      f"-DUNROLL={args.unroll}"),
                                backend="nvrtc")
        kernel = module.get_function("kuai_gemv_tn_f16")
        for label, n, k in [("8B qkv", 6144, 4096), ("8B o", 4096, 4096),
                            ("8B gate_up", 28672, 4096), ("8B down", 4096, 14336),
                            ("8B lm_head", 128256, 4096)]:
            a = torch.randn(m, k, device="cuda", dtype=torch.float16)
            w = torch.randn(n, k, device="cuda", dtype=torch.float16) / k ** 0.5
            c = torch.empty(m, n, device="cuda", dtype=torch.float16)
            c.fill_(float("nan"))
            ca, cw, cc = (cupy.from_dlpack(t) for t in (a, w, c))

            def run_kuai():
                kernel((n // 8,), (256,), (ca, cw, cc, cupy.int32(n), cupy.int32(k)))

            def run_cublas():
                torch.matmul(a, w.t())

            run_kuai()
            ref = torch.matmul(a, w.t())
            torch.cuda.synchronize()
            err = rel_error(c, ref)
            tk, tc = timed(run_kuai, iters=100), timed(run_cublas, iters=100)
            gbs = (n * k + m * k + m * n) * 2 / tk / 1e9
            rows.append(f"| {label} | {m} | {n} | {k} | {tk * 1e6:.1f} | {tc * 1e6:.1f} | "
                        f"{tc / tk:.2f} | {gbs:.0f} | {100 * gbs / 3000:.0f}% | {err:.1e} |")
            print(rows[-1], flush=True)
    write_table(args.out, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
