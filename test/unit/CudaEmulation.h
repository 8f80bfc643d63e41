//===- CudaEmulation.h - Run CUDA kernel templates on the CPU -*- C++ -*-===//
//
// Just enough of CUDA for the block-level kernels of
// lib/Codegen/templates/paged_attention.cu, linear_gemv.cu and kuai_norm.cuh
// to compile as
// host C++ and run with one std::thread per CUDA thread: __syncthreads is a
// barrier of the block, warp shuffles and the bf16 mma.sync exchange
// through per-warp slot arrays between two barriers of the warp,
// shared-memory atomics are std::atomic_ref. Blocks run one after another.
// The templates' PTX helpers take the emulations below under
// KUAI_EMULATED_PTX. Slow, but exact about the kernels' logic, so CI
// checks them without a GPU; the GPU machine checks them for real
// (test/gpu/*_check.cu).
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_TEST_CUDAEMULATION_H
#define KUAI_TEST_CUDAEMULATION_H

#include <algorithm>
#include <atomic>
#include <barrier>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#define __device__
#define __global__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define KUAI_EMULATED_PTX

namespace cuda_emulation {
struct Dim3 {
  unsigned x = 1, y = 1, z = 1;
};
inline thread_local Dim3 threadIdx, blockIdx;
inline Dim3 blockDim, gridDim;
inline std::barrier<> *blockBarrier = nullptr;
inline std::vector<std::unique_ptr<std::barrier<>>> warpBarriers;
inline std::vector<float> warpSlots; // one per thread
inline std::vector<unsigned> warpSlotsU;
inline std::vector<unsigned> mmaSlots; // a 4 and b 2 registers per thread

/// Runs kernel() for every block of `grid` with `block` threads.
inline void launch(Dim3 grid, unsigned block,
                   const std::function<void()> &kernel) {
  gridDim = grid;
  blockDim = {block, 1, 1};
  std::barrier<> sync(block);
  blockBarrier = &sync;
  warpBarriers.clear();
  for (unsigned w = 0; w < (block + 31) / 32; ++w)
    warpBarriers.push_back(
        std::make_unique<std::barrier<>>(std::min(32u, block - 32 * w)));
  warpSlots.assign(block, 0.f);
  warpSlotsU.assign(block, 0u);
  mmaSlots.assign(6 * size_t(block), 0u);
  for (unsigned by = 0; by < grid.y; ++by)
    for (unsigned bx = 0; bx < grid.x; ++bx) {
      std::vector<std::thread> threads;
      for (unsigned t = 0; t < block; ++t)
        threads.emplace_back([&, t] {
          threadIdx = {t, 0, 0};
          blockIdx = {bx, by, 0};
          kernel();
        });
      for (auto &th : threads)
        th.join();
    }
}

inline void warpSync() { warpBarriers[threadIdx.x / 32]->arrive_and_wait(); }

template <typename V> inline V exchange(V v, unsigned from) {
  unsigned me = threadIdx.x, base = me & ~31u;
  if constexpr (sizeof(V) == 4 && std::is_floating_point_v<V>) {
    warpSlots[me] = v;
    warpSync();
    V got = warpSlots[base + from];
    warpSync();
    return got;
  } else {
    warpSlotsU[me] = unsigned(v);
    warpSync();
    V got = V(warpSlotsU[base + from]);
    warpSync();
    return got;
  }
}

/// bf16 bits of f, rounded to nearest even (cvt.rn.bf16.f32).
inline unsigned roundBf16(float f) {
  unsigned u = std::bit_cast<unsigned>(f);
  if ((u & 0x7fffffffu) > 0x7f800000u)
    return (u >> 16) | 0x40u; // NaN stays NaN
  return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

/// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, c += a · b, by the
/// fragment layout of the PTX ISA: lane (g = lane / 4, t = lane % 4) holds
/// A(row, k) for rows g, g + 8 and k 2t, 2t + 1, 2t + 8, 2t + 9 (register
/// (row >= 8) + 2 (k >= 8), lower k in the low half), B(k, g) for the same
/// k (register k >= 8), and C rows g, g + 8, columns 2t, 2t + 1.
inline void mmaBf16(float *c, const unsigned *a, const unsigned *b) {
  const unsigned me = threadIdx.x, base = me & ~31u;
  for (int i = 0; i < 4; ++i)
    mmaSlots[6 * me + i] = a[i];
  mmaSlots[6 * me + 4] = b[0];
  mmaSlots[6 * me + 5] = b[1];
  warpSync();
  auto element = [](unsigned reg, int k) {
    return std::bit_cast<float>(k & 1 ? reg & 0xffff0000u : reg << 16);
  };
  auto A = [&](int row, int k) {
    unsigned lane = 4 * (row % 8) + (k % 8) / 2;
    return element(mmaSlots[6 * (base + lane) + (row >= 8) + 2 * (k >= 8)], k);
  };
  auto B = [&](int k, int col) {
    unsigned lane = 4 * col + (k % 8) / 2;
    return element(mmaSlots[6 * (base + lane) + 4 + (k >= 8)], k);
  };
  const int g = (me & 31) / 4, t = me & 3;
  float out[4];
  for (int i = 0; i < 4; ++i) {
    int row = g + (i >= 2 ? 8 : 0), col = 2 * t + (i & 1);
    float sum = 0.f;
    for (int k = 0; k < 16; ++k)
      sum += A(row, k) * B(k, col);
    out[i] = c[i] + sum;
  }
  warpSync();
  std::copy(out, out + 4, c);
}
} // namespace cuda_emulation

using cuda_emulation::blockDim;
using cuda_emulation::blockIdx;
using cuda_emulation::gridDim;
using cuda_emulation::threadIdx;

inline void __syncthreads() { cuda_emulation::blockBarrier->arrive_and_wait(); }
template <typename V> inline V __shfl_xor_sync(unsigned, V v, int mask) {
  return cuda_emulation::exchange(v, (threadIdx.x & 31u) ^ unsigned(mask));
}
template <typename V> inline V __shfl_sync(unsigned, V v, int lane) {
  return cuda_emulation::exchange(v, unsigned(lane));
}
inline float atomicAdd(float *p, float v) {
  return std::atomic_ref<float>(*p).fetch_add(v);
}
inline float __expf(float x) { return std::exp(x); }
inline float rsqrtf(float x) { return 1.f / std::sqrt(x); }
inline unsigned __float_as_uint(float x) { return std::bit_cast<unsigned>(x); }
inline float __uint_as_float(unsigned x) { return std::bit_cast<float>(x); }
inline float __int_as_float(int x) { return std::bit_cast<float>(x); }
template <typename V> inline V __ldg(const V *p) { return *p; }
struct uint4 {
  unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
  return {x, y, z, w};
}
struct float2 {
  float x, y;
};
struct float4 {
  float x, y, z, w;
};
struct uint2 {
  unsigned x, y;
};
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) {
  return {x, y, z, w};
}
// Declared for the templates' helpers that the emulated kernels never call
// (cp.async, ldmatrix): a call would fail to link.
unsigned long long __cvta_generic_to_shared(const void *);
using std::max;
using std::min;

#endif
