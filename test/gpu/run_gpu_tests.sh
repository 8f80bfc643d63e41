#!/usr/bin/env bash
# GPU tests, run on the GPU machine from the repository root (no MLIR there):
# builds the runtime alone and runs the runtime smoke test and the decode
# kernels' checks against host references (paged_attention_check.cu,
# sampling_check.cu, linear_gemv_check.cu with its kernel timings next to
# cuBLAS), the prefill attention's check (attention_tc_check.cu) and,
# when build-gpu/kuai-bundle holds a compiler bundle,
# test/gpu/decode_bundled_models.sh and the past/present export
# (test/numerics/past_present.py --gpu). Results go to
# $OUT (or build-gpu/) as gpu-results.txt, with device, date and commit.
set -euo pipefail
out="${OUT:-build-gpu}"
mkdir -p "$out" build-gpu
cmake -S . -B build-gpu/runtime -DKUAI_BUILD_COMPILER=OFF > /dev/null
cmake --build build-gpu/runtime > /dev/null
nvcc -ptx -arch=sm_90 test/gpu/smoke_kernel.cu -o build-gpu/smoke_kernel.ptx
g++ -std=c++17 -O2 -Iinclude test/gpu/runtime_smoke.cpp lib/Artifact/ArtifactWriter.cpp \
  build-gpu/runtime/runtime/libkuai_runtime.a -ldl -o build-gpu/runtime_smoke
g++ -std=c++17 -O2 -Iinclude test/gpu/generate_check.cpp \
  build-gpu/runtime/runtime/libkuai_runtime.a -ldl -o build-gpu/generate_check
nvcc -O2 -arch=sm_90 -std=c++17 -Ilib/Codegen/templates \
  test/gpu/paged_attention_check.cu -o build-gpu/paged_attention_check
nvcc -O2 -arch=sm_90 -std=c++17 -Ilib/Codegen/templates -Iinclude \
  test/gpu/sampling_check.cu -o build-gpu/sampling_check
nvcc -O2 -arch=sm_90 -std=c++17 -Ilib/Codegen/templates \
  test/gpu/linear_gemv_check.cu -lcublas -o build-gpu/linear_gemv_check
nvcc -O2 -arch=sm_90 -std=c++17 -Ilib/Codegen/templates \
  test/gpu/attention_tc_check.cu -o build-gpu/attention_tc_check
{
  echo "device: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | head -1)"
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "commit: ${KUAI_COMMIT:-$(git rev-parse --short HEAD 2>/dev/null || echo unknown)}"
  build-gpu/runtime_smoke build-gpu/smoke_kernel.ptx build-gpu && echo "runtime smoke: PASS" || echo "runtime smoke: FAIL"
  build-gpu/paged_attention_check || true
  build-gpu/sampling_check || true
  build-gpu/linear_gemv_check || true
  build-gpu/attention_tc_check || true
  # With a compiler bundle unpacked there (tools/make-bundle.sh): the
  # bundled causal LMs through the decode path, GPU sampling and
  # kuai_model_generate.
  if [ -x build-gpu/kuai-bundle/bin/kuai-compile ]; then
    test/gpu/decode_bundled_models.sh build-gpu/kuai-bundle /dev/stdout \
      build-gpu/generate_check || true
    # A past/present export (llama-past-like) against onnxruntime feeding
    # its presents back, on the reference executor and as a GPU artifact.
    python3 test/numerics/past_present.py --bin build-gpu/kuai-bundle/bin \
      --models test/models --gpu || true
  fi
} | tee "$out/gpu-results.txt"
