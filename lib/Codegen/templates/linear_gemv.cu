// The linears of decode steps (a few rows): y = act(x · Wᵀ + bias) +
// residual with x [M, K], W [N, K] (the tensor-core layout). Bound by
// reading W once. One row: each warp streams one row of W with 16-byte
// loads (4 in flight per lane), multiplies it with x on the CUDA cores and
// reduces across the warp. 2..32 rows: tensor cores (below), since 8 rows
// of fp32 FMAs per weight keep the CUDA cores, not memory, busy.
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

template <typename T, typename TO>
__device__ void linear_gemv1(const T *__restrict__ x, const T *__restrict__ w,
                             const T *__restrict__ bias,
                             const TO *__restrict__ residual,
                             TO *__restrict__ y, i64 N, i64 K, int act) {
  const int lane = threadIdx.x & 31;
  const i64 n = i64(blockIdx.x) * GEMV_WARPS + (threadIdx.x >> 5);
  if (n >= N)
    return;
  const uint4 *wr = reinterpret_cast<const uint4 *>(w + n * K);
  const uint4 *xr = reinterpret_cast<const uint4 *>(x);
  const i64 chunks = K / 8;
  float acc = 0.f;
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
      float wf[8], xf[8];
      unpack8(wv[u], wf, T::is_bf16);
      unpack8(__ldg(xr + c), xf, T::is_bf16);
#pragma unroll
      for (int e = 0; e < 8; ++e)
        acc += wf[e] * xf[e];
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    acc += __shfl_xor_sync(0xffffffffu, acc, o);
  if (lane == 0) {
    if (bias)
      acc += to_f32(bias[n]);
    acc = epilogue_act(acc, act);
    if (residual)
      acc += to_f32(residual[n]);
    y[n] = from_f32<TO>(acc);
  }
}

// M is the same argument as for the other rows' kernels; it is 1 here.
#define KUAI_LINEAR_GEMV1(NAME, T, TO)                                         \
  extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32)                \
      NAME(const T *x, const T *w, const T *bias, const TO *residual, TO *y,   \
           i64 M, i64 N, i64 K, int act) {                                     \
    kuai_grid_dependency_sync();                                               \
    linear_gemv1<T, TO>(x, w, bias, residual, y, N, K, act);                   \
  }

// 2..8·NT rows on mma.sync m16n8k16: a block owns 16 rows of W (the MMA's
// A) and all M rows of x (its B, NT tiles of 8), its GEMV_WARPS warps split
// K and add their accumulators through shared memory. The sum over k does
// not care in which order k comes, so the fragments are not loaded in the
// MMA's k order: lane (g = lane / 4, t = lane % 4) loads one 16-byte chunk
// (8 consecutive k) of W rows g and g + 8 and of x row g, the same chunk
// index for all three, and feeds elements 0..3 to one MMA and 4..7 to the
// next. A's and B's k then agree, every load is a plain 16-byte vector
// load and no shuffles or shared-memory staging are needed. Rows of W past
// N and of x past M are read from row 0 (their results are dropped); chunks
// past K are zero in both.
template <typename T, typename TO, int NT, int UNROLL>
__device__ void
linear_gemv_mma(const T *__restrict__ x, const T *__restrict__ w,
                const T *__restrict__ bias, const TO *__restrict__ residual,
                TO *__restrict__ y, i64 M, i64 N, i64 K, int act) {
  __shared__ float partial[GEMV_WARPS][16][8 * NT];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int g = lane >> 2, t = lane & 3;
  const i64 n0 = i64(blockIdx.x) * 16, chunks = K / 8;
  const uint4 *wlo =
      reinterpret_cast<const uint4 *>(w + (n0 + g < N ? n0 + g : 0) * K);
  const uint4 *whi = reinterpret_cast<const uint4 *>(
      w + (n0 + g + 8 < N ? n0 + g + 8 : 0) * K);
  const uint4 *xr[NT];
#pragma unroll
  for (int j = 0; j < NT; ++j)
    xr[j] = reinterpret_cast<const uint4 *>(
        x + (g + 8 * j < M ? g + 8 * j : 0) * K);
  float acc[NT][4];
#pragma unroll
  for (int j = 0; j < NT; ++j)
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  // A warp's step covers 4 · UNROLL chunks (64 · UNROLL contiguous bytes of
  // each W row); the block's warps take turns.
  constexpr int step = 4 * UNROLL;
  for (i64 c0 = i64(warp) * step; c0 < chunks; c0 += GEMV_WARPS * step) {
    uint4 lo[UNROLL], hi[UNROLL], xv[UNROLL][NT];
    const uint4 zero = make_uint4(0, 0, 0, 0);
    // Whole steps load without conditions, so that all the loads are in
    // flight before the first MMA; the last, partial step (if K leaves one)
    // reads zeros past K.
    if (c0 + step <= chunks) {
#pragma unroll
      for (int u = 0; u < UNROLL; ++u) {
        const i64 c = c0 + 4 * u + t;
        lo[u] = load_stream16(wlo + c);
        hi[u] = load_stream16(whi + c);
#pragma unroll
        for (int j = 0; j < NT; ++j)
          xv[u][j] = __ldg(xr[j] + c);
      }
    } else {
#pragma unroll
      for (int u = 0; u < UNROLL; ++u) {
        const i64 c = c0 + 4 * u + t;
        const bool in = c < chunks;
        lo[u] = in ? load_stream16(wlo + c) : zero;
        hi[u] = in ? load_stream16(whi + c) : zero;
#pragma unroll
        for (int j = 0; j < NT; ++j)
          xv[u][j] = in ? __ldg(xr[j] + c) : zero;
      }
    }
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const unsigned a0[4] = {lo[u].x, hi[u].x, lo[u].y, hi[u].y};
      const unsigned a1[4] = {lo[u].z, hi[u].z, lo[u].w, hi[u].w};
#pragma unroll
      for (int j = 0; j < NT; ++j) {
        const unsigned b0[2] = {xv[u][j].x, xv[u][j].y};
        const unsigned b1[2] = {xv[u][j].z, xv[u][j].w};
        mma_16816_t<T>(acc[j], a0, b0);
        mma_16816_t<T>(acc[j], a1, b1);
      }
    }
  }
  // C fragment: acc[j][0..1] is (W row g, x row 8j + 2t + 0..1), acc[j][2..3]
  // the same for W row g + 8.
#pragma unroll
  for (int j = 0; j < NT; ++j)
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      partial[warp][g][8 * j + 2 * t + e] = acc[j][e];
      partial[warp][g + 8][8 * j + 2 * t + e] = acc[j][2 + e];
    }
  __syncthreads();
  for (int i = threadIdx.x; i < 16 * 8 * NT; i += GEMV_WARPS * 32) {
    const int r = i & 15, m = i >> 4;
    const i64 n = n0 + r;
    if (m >= M || n >= N)
      continue;
    float v = 0.f;
#pragma unroll
    for (int s = 0; s < GEMV_WARPS; ++s)
      v += partial[s][r][m];
    if (bias)
      v += to_f32(bias[n]);
    v = epilogue_act(v, act);
    if (residual)
      v += to_f32(residual[m * N + n]);
    y[m * N + n] = from_f32<TO>(v);
  }
}

// Steps (chunk pairs of W and NT chunks of x per lane) a warp has in
// flight: 8 (256 bytes of W per lane), 4 with the 4 x tiles of 32 rows
// (register file).
#define GEMV_MMA_UNROLL(NT) ((NT) >= 4 ? 4 : 8)

#define KUAI_LINEAR_GEMV_MMA(NAME, T, TO, NT)                                  \
  extern "C" __global__ void __launch_bounds__(GEMV_WARPS * 32)                \
      NAME(const T *x, const T *w, const T *bias, const TO *residual, TO *y,   \
           i64 M, i64 N, i64 K, int act) {                                     \
    kuai_grid_dependency_sync();                                               \
    linear_gemv_mma<T, TO, NT, GEMV_MMA_UNROLL(NT)>(x, w, bias, residual, y,   \
                                                    M, N, K, act);             \
  }

#define KUAI_LINEAR_GEMV_MMA_ROWS(ROWS, SUFFIX, T)                             \
  KUAI_LINEAR_GEMV_MMA(kuai_linear_gemv##ROWS##_##SUFFIX, T, T, ROWS / 8)      \
  KUAI_LINEAR_GEMV_MMA(kuai_linear_gemv##ROWS##_##SUFFIX##_out_f32, T, float,  \
                       ROWS / 8)

#define KUAI_LINEAR_GEMV_ALL(SUFFIX, T)                                        \
  KUAI_LINEAR_GEMV1(kuai_linear_gemv1_##SUFFIX, T, T)                          \
  KUAI_LINEAR_GEMV1(kuai_linear_gemv1_##SUFFIX##_out_f32, T, float)            \
  KUAI_LINEAR_GEMV_MMA_ROWS(8, SUFFIX, T)                                      \
  KUAI_LINEAR_GEMV_MMA_ROWS(16, SUFFIX, T)                                     \
  KUAI_LINEAR_GEMV_MMA_ROWS(32, SUFFIX, T)

#ifdef KUAI_WITH_F16
KUAI_LINEAR_GEMV_ALL(f16, kuai_f16)
#endif
#ifdef KUAI_WITH_BF16
KUAI_LINEAR_GEMV_ALL(bf16, kuai_bf16)
#endif

#endif
