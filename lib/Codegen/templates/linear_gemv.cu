// The linear for decode steps (a few rows): y = act(x · Wᵀ + bias) +
// residual with x [M, K], W [N, K] (the tensor-core layout), M <= ROWS.
// Bound by reading W once: each warp streams one row of W with 16-byte
// loads (4 in flight per lane), multiplies it with the M rows of x (read
// through the cache) and reduces across the warp; lane r stores row r.
// K must be a multiple of 8 and x's rows 16-byte aligned.
#include "kuai_epilogue.cuh"

#ifndef KUAI_LINEAR_GEMV_CU
#define KUAI_LINEAR_GEMV_CU

#define GEMV_WARPS 8
#define GEMV_UNROLL 4

__device__ __forceinline__ void unpack8(uint4 v, float *f, bool bf16) {
  unsigned u[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    if (bf16) {
      f[2 * i] = __uint_as_float(u[i] << 16);
      f[2 * i + 1] = __uint_as_float(u[i] & 0xffff0000u);
    } else {
      unsigned short lo = u[i] & 0xffff, hi = u[i] >> 16;
      asm("cvt.f32.f16 %0, %1;" : "=f"(f[2 * i]) : "h"(lo));
      asm("cvt.f32.f16 %0, %1;" : "=f"(f[2 * i + 1]) : "h"(hi));
    }
  }
}

template <typename T, typename TO, int ROWS>
__device__ void linear_gemv(const T *__restrict__ x, const T *__restrict__ w,
                            const T *__restrict__ bias,
                            const TO *__restrict__ residual, TO *__restrict__ y,
                            i64 M, i64 N, i64 K, int act) {
  const int lane = threadIdx.x & 31;
  const i64 n = i64(blockIdx.x) * GEMV_WARPS + (threadIdx.x >> 5);
  if (n >= N)
    return;
  const uint4 *wr = reinterpret_cast<const uint4 *>(w + n * K);
  const i64 chunks = K / 8;
  float acc[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; ++r)
    acc[r] = 0.f;
  for (i64 c0 = lane; c0 < chunks; c0 += 32 * GEMV_UNROLL) {
    uint4 wv[GEMV_UNROLL];
#pragma unroll
    for (int u = 0; u < GEMV_UNROLL; ++u) {
      i64 c = c0 + u * 32;
      wv[u] = c < chunks ? __ldg(wr + c) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < GEMV_UNROLL; ++u) {
      i64 c = c0 + u * 32;
      if (c >= chunks)
        break;
      float wf[8];
      unpack8(wv[u], wf, T::is_bf16);
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
        if (r >= M)
          break;
        float xf[8];
        unpack8(__ldg(reinterpret_cast<const uint4 *>(x + r * K) + c), xf,
                T::is_bf16);
#pragma unroll
        for (int e = 0; e < 8; ++e)
          acc[r] += wf[e] * xf[e];
      }
    }
  }
#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
    float v = acc[r];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
      v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == r && r < M) {
      if (bias)
        v += to_f32(bias[n]);
      v = epilogue_act(v, act);
      if (residual)
        v += to_f32(residual[r * N + n]);
      y[r * N + n] = from_f32<TO>(v);
    }
  }
}

#define KUAI_LINEAR_GEMV(NAME, T, TO, ROWS)                                    \
  extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32)                \
      NAME(const T *x, const T *w, const T *bias, const TO *residual, TO *y,   \
           i64 M, i64 N, i64 K, int act) {                                     \
    linear_gemv<T, TO, ROWS>(x, w, bias, residual, y, M, N, K, act);           \
  }

#define KUAI_LINEAR_GEMV_ALL(SUFFIX, T)                                        \
  KUAI_LINEAR_GEMV(kuai_linear_gemv1_##SUFFIX, T, T, 1)                        \
  KUAI_LINEAR_GEMV(kuai_linear_gemv1_##SUFFIX##_out_f32, T, float, 1)          \
  KUAI_LINEAR_GEMV(kuai_linear_gemv8_##SUFFIX, T, T, 8)                        \
  KUAI_LINEAR_GEMV(kuai_linear_gemv8_##SUFFIX##_out_f32, T, float, 8)

#ifdef KUAI_WITH_F16
KUAI_LINEAR_GEMV_ALL(f16, kuai_f16)
#endif
#ifdef KUAI_WITH_BF16
KUAI_LINEAR_GEMV_ALL(bf16, kuai_bf16)
#endif

#endif
