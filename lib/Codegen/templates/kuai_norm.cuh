// Warp and block sums and the norm kernels' bodies (rms_norm and
// layer_norm over rows of `inner` elements): a block per row, a warp per row
// with the row in registers, and a warp per row with 16-byte accesses.
// Included by generic_kernels.cu; test/unit/KernelEmulationTest.cpp runs
// them on the CPU.
#ifndef KUAI_NORM_CUH
#define KUAI_NORM_CUH

#include "kuai_types.cuh"

__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

/// Sum over the block (blockDim.x a multiple of 32, at most 1024).
__device__ float block_sum(float v) {
  __shared__ float partial[32];
  v = warp_sum(v);
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads(); // partial[] may still be read by a previous call
  if (lane == 0)
    partial[warp] = v;
  __syncthreads();
  float total = 0;
  for (int w = 0; w < int(blockDim.x >> 5); ++w)
    total += partial[w];
  return total;
}

//===-- rms_norm / layer_norm over rows of `inner` elements ---------------===//

template <typename TI, typename T>
__device__ void norm_rows(const TI *x, const T *weight, const T *bias, T *y,
                          i64 inner, float eps, int rms) {
  const TI *row = x + i64(blockIdx.x) * inner;
  T *out = y + i64(blockIdx.x) * inner;
  float mean = 0;
  if (!rms) {
    float s = 0;
    for (i64 i = threadIdx.x; i < inner; i += blockDim.x)
      s += to_f32(row[i]);
    mean = block_sum(s) / float(inner);
  }
  float sq = 0;
  for (i64 i = threadIdx.x; i < inner; i += blockDim.x) {
    float d = to_f32(row[i]) - mean;
    sq += d * d;
  }
  float scale = rsqrtf(block_sum(sq) / float(inner) + eps);
  for (i64 i = threadIdx.x; i < inner; i += blockDim.x) {
    float v = (to_f32(row[i]) - mean) * scale;
    if (weight)
      v *= to_f32(weight[i]);
    if (bias)
      v += to_f32(bias[i]);
    out[i] = from_f32<T>(v);
  }
}

/// The same for rows of at most 32 * NORM_CACHE elements: one warp per row
/// (eight rows per 256-thread block), the row held in registers, so x is
/// read once and the reductions are warp shuffles without block barriers.
#define NORM_CACHE 32
template <typename TI, typename T>
__device__ void norm_rows_warp(const TI *x, const T *weight, const T *bias,
                               T *y, i64 rows, i64 inner, float eps, int rms) {
  const i64 r = i64(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows)
    return;
  const TI *row = x + r * inner;
  // Loads of a clamped index, masked after: all of them can be in flight
  // at once (a guarded load compiles to a branch around each, in series).
  // The weight and bias are loaded up front too: a load between stores
  // would wait for the store before it.
  float v[NORM_CACHE], wv[NORM_CACHE], bv[NORM_CACHE];
  float s = 0;
#pragma unroll
  for (int j = 0; j < NORM_CACHE; ++j) {
    i64 i = lane + 32 * j, at = i < inner ? i : inner - 1;
    float loaded = to_f32(row[at]);
    wv[j] = weight ? to_f32(weight[at]) : 1.f;
    bv[j] = bias ? to_f32(bias[at]) : 0.f;
    v[j] = i < inner ? loaded : 0.f;
    s += v[j];
  }
  const float mean = rms ? 0.f : warp_sum(s) / float(inner);
  float sq = 0;
#pragma unroll
  for (int j = 0; j < NORM_CACHE; ++j) {
    float d = lane + 32 * j < inner ? v[j] - mean : 0.f;
    sq += d * d;
  }
  const float scale = rsqrtf(warp_sum(sq) / float(inner) + eps);
  T *out = y + r * inner;
#pragma unroll
  for (int j = 0; j < NORM_CACHE; ++j) {
    i64 i = lane + 32 * j;
    if (i < inner)
      out[i] = from_f32<T>((v[j] - mean) * scale * wv[j] + bv[j]);
  }
}

/// Eight consecutive elements of E held as 16-byte words (one for 16-bit
/// types, two for fp32), so that a row moves with 16-byte accesses and
/// stays packed in registers until it is used.
template <typename E> struct Pack8 {
  static constexpr int kWords = sizeof(E) / 2;
  uint4 word[kWords];
  __device__ __forceinline__ void load(const E *p) {
#pragma unroll
    for (int i = 0; i < kWords; ++i)
      word[i] = reinterpret_cast<const uint4 *>(p)[i];
  }
  __device__ __forceinline__ static unsigned lane32(const uint4 &w, int c) {
    return c == 0 ? w.x : c == 1 ? w.y : c == 2 ? w.z : w.w;
  }
  /// Element j (0..7) as a float; j is a constant after unrolling.
  __device__ __forceinline__ float get(int j) const {
    if constexpr (sizeof(E) == 4) {
      return __uint_as_float(lane32(word[j / 4], j % 4));
    } else {
      E e;
      e.bits = (unsigned short)(lane32(word[0], j / 2) >> (16 * (j % 2)));
      return to_f32(e);
    }
  }
};

/// Rows of at most 1024 elements, a multiple of 8, starting 16-byte
/// aligned: the warp-per-row norm with 16-byte loads and stores and the
/// row kept packed (four runs of eight elements a lane). Half the registers
/// of norm_rows_warp, so 32 warps fit on an SM: a 4096-row norm is one
/// wave instead of four.
#define NORM_RUNS 4
template <typename TI, typename T>
__device__ void norm_rows_vec(const TI *x, const T *weight, const T *bias, T *y,
                              i64 rows, i64 inner, float eps, int rms) {
  const i64 r = i64(blockIdx.x) * (blockDim.x / 32) + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (r >= rows)
    return;
  const TI *row = x + r * inner;
  // Every load is issued before the first use (clamped, masked after), the
  // weight and bias too: a load after a store would wait for it.
  Pack8<TI> v[NORM_RUNS];
  Pack8<T> wv[NORM_RUNS], bv[NORM_RUNS];
#pragma unroll
  for (int g = 0; g < NORM_RUNS; ++g) {
    i64 i = (g * 32 + lane) * 8, at = i < inner ? i : inner - 8;
    v[g].load(row + at);
    if (weight)
      wv[g].load(weight + at);
    if (bias)
      bv[g].load(bias + at);
  }
  float s = 0;
#pragma unroll
  for (int g = 0; g < NORM_RUNS; ++g)
    if ((g * 32 + lane) * 8 < inner)
#pragma unroll
      for (int j = 0; j < 8; ++j)
        s += v[g].get(j);
  const float mean = rms ? 0.f : warp_sum(s) / float(inner);
  float sq = 0;
#pragma unroll
  for (int g = 0; g < NORM_RUNS; ++g)
    if ((g * 32 + lane) * 8 < inner)
#pragma unroll
      for (int j = 0; j < 8; ++j) {
        float d = v[g].get(j) - mean;
        sq += d * d;
      }
  const float scale = rsqrtf(warp_sum(sq) / float(inner) + eps);
  T *out = y + r * inner;
#pragma unroll
  for (int g = 0; g < NORM_RUNS; ++g) {
    i64 i = (g * 32 + lane) * 8;
    if (i >= inner)
      continue;
    T o[8];
#pragma unroll
    for (int j = 0; j < 8; ++j)
      o[j] = from_f32<T>((v[g].get(j) - mean) * scale *
                             (weight ? wv[g].get(j) : 1.f) +
                         (bias ? bv[g].get(j) : 0.f));
#pragma unroll
    for (int w = 0; w < Pack8<T>::kWords; ++w)
      reinterpret_cast<uint4 *>(out + i)[w] =
          reinterpret_cast<const uint4 *>(o)[w];
  }
}

#endif
