//===- CudaEmulation.h - Run CUDA kernel templates on the CPU -*- C++ -*-===//
//
// Just enough of CUDA for the block-level kernels of
// lib/Codegen/templates/paged_attention.cu to compile as host C++ and run
// with one std::thread per CUDA thread: __syncthreads is a barrier of the
// block, warp shuffles exchange through a per-warp slot array between two
// barriers of the warp, shared-memory atomics are std::atomic_ref. Blocks
// run one after another. Slow, but exact about the kernels' logic, so CI
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
#define __launch_bounds__(n)
#define __shared__ static

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
using std::max;
using std::min;

#endif
