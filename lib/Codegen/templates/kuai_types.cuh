// Element types shared by the kernel templates: 16-bit floats as plain
// structs (NVRTC needs no CUDA headers) converted with PTX `cvt`, and the
// 64-bit size type of kernel arguments.
#ifndef KUAI_TYPES_CUH
#define KUAI_TYPES_CUH

struct kuai_f16 {
  unsigned short bits;
  static constexpr bool is_bf16 = false;
};
struct kuai_bf16 {
  unsigned short bits;
  static constexpr bool is_bf16 = true;
};

// Programmatic dependent launch (sm_90 and later): every kernel of the
// compiled templates calls this first, before touching global memory. It
// waits until the grid launched before it on the stream has completed and
// its writes are visible, so the runtime (which launches a kernel as a
// programmatic dependent only when its PTX holds this wait) may launch it
// before that grid is done: its launch overlaps the previous kernel instead
// of following it. It does not trigger its own dependents early
// (griddepcontrol.launch_dependents): measured on the H200, triggering at
// kernel start sped BERT-base 1x128 up 5% but slowed GPT-2 1x512 by 2.5%;
// the wait alone gained 1-2% on both and on BERT 32x128
// (bench/results/runtime-pdl-h200-2026-12-04.md). Launched normally, it
// returns at once.
__device__ __forceinline__ void kuai_grid_dependency_sync() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(kuai_f16 v) {
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(v.bits));
  return f;
}
__device__ __forceinline__ float to_f32(kuai_bf16 v) {
  return __int_as_float(int(v.bits) << 16);
}

template <typename T> __device__ __forceinline__ T from_f32(float v);
template <> __device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <> __device__ __forceinline__ kuai_f16 from_f32<kuai_f16>(float v) {
  kuai_f16 h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h.bits) : "f"(v));
  return h;
}
template <> __device__ __forceinline__ kuai_bf16 from_f32<kuai_bf16>(float v) {
  kuai_bf16 h;
#ifdef KUAI_EMULATED_PTX // test/unit/CudaEmulation.h
  h.bits = cuda_emulation::roundBf16(v);
  return h;
#else
  asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(h.bits) : "f"(v));
  return h;
#endif
}

typedef long long i64;

// kuai-compile defines the dtypes a model uses (fewer kernels to compile);
// without any definition (nvcc checks) all are built.
#if !defined(KUAI_WITH_F32) && !defined(KUAI_WITH_F16) &&                      \
    !defined(KUAI_WITH_BF16)
#define KUAI_WITH_F32
#define KUAI_WITH_F16
#define KUAI_WITH_BF16
#endif

#endif
