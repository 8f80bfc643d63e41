#!/usr/bin/env bash
# Every CUDA template compiles to PTX and the PTX assembles with ptxas for
# its target (no GPU needed). Exit 77 (skipped) without the CUDA toolkit.
set -euo pipefail
src="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/lib/Codegen/templates"
command -v nvcc >/dev/null || { echo "SKIPPED: nvcc not found (CUDA toolkit)"; exit 77; }
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
check() { # file arch gencode [defines...]
  local f="$1" arch="$2" gencode="$3"; shift 3
  nvcc -ptx "$gencode" -I"$src" "$@" "$src/$f" -o "$tmp/k.ptx"
  ptxas -arch="$arch" "$tmp/k.ptx" -o "$tmp/k.cubin"
  echo "ok  $f $arch $*"
}
check generic_kernels.cu sm_90 -arch=sm_90
check linear_tc.cu sm_90 -arch=sm_90
check attention_tc.cu sm_90 -arch=sm_90
check paged_attention.cu sm_90 -arch=sm_90
check linear_gemv.cu sm_90 -arch=sm_90
check gemm_tn_f16.cu sm_90 -arch=sm_90
check gemm_tn_f16.cu sm_90 -arch=sm_90 -DBN=256
check linear_wgmma.cu sm_90a -gencode=arch=compute_90a,code=sm_90a
check gemv_tn_f16.cu sm_90 -arch=sm_90 -DROWS=1
check gemv_tn_f16.cu sm_90 -arch=sm_90 -DROWS=16
check flash_attn_fwd_f16.cu sm_90 -arch=sm_90 -DHEAD_DIM=128
check flash_attn_fwd_f16.cu sm_90 -arch=sm_90 -DHEAD_DIM=64 -DCAUSAL=0
