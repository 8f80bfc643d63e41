// Tensor-core linear for fp16 and bf16 with a fused epilogue:
//   y[M, N] = act(x[M, K] · W[N, K]ᵀ + bias) + residual
// fp32 accumulation (mma.sync m16n8k16), a STAGES-deep cp.async pipeline,
// ldmatrix fragments; BMxBN block tiles over WARPS_M x WARPS_N warps. Rows
// of x and W beyond M and N are zero-filled and stores are guarded, so M
// and N are arbitrary; K must be a multiple of 32 (the compiler checks and
// otherwise uses the generic linear). W is [N, K]: kuai-compile stores
// constant weights in this layout. The output may be fp32 (logits).

#include "kuai_epilogue.cuh"

#define TC_BK 32
#define TC_STAGES 4
#define TC_LDS (TC_BK + 8) // padded shared row, in 16-bit elements

template <typename T, typename TO, int BM, int BN, int WARPS_M, int WARPS_N>
__device__ void linear_tc(const T *__restrict__ x, const T *__restrict__ w,
                          const T *__restrict__ bias,
                          const TO *__restrict__ residual, TO *__restrict__ y,
                          i64 M, i64 N, i64 K, int act) {
  constexpr int THREADS = WARPS_M * WARPS_N * 32;
  constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;
  constexpr int MT = WM / 16, NT = WN / 8;
  extern __shared__ __align__(16) unsigned short tc_smem[];
  unsigned short *sA = tc_smem;                           // [STAGES][BM][LDS]
  unsigned short *sB = tc_smem + TC_STAGES * BM * TC_LDS; // [STAGES][BN][LDS]
  const unsigned short *A = (const unsigned short *)x;
  const unsigned short *W = (const unsigned short *)w;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / WARPS_N, wn = warp % WARPS_N;
  const i64 row0 = i64(blockIdx.y) * BM, col0 = i64(blockIdx.x) * BN;
  // Split-K (gridDim.z > 1): block z computes k-tiles [kt0, kt0 + count)
  // and writes its fp32 partial sums to y + z*M*N for kuai_linear_tc_reduce.
  const int allTiles = int(K / TC_BK);
  const int per = (allTiles + gridDim.z - 1) / gridDim.z;
  const int kt0 = blockIdx.z * per;
  const int ktiles = max(0, min(allTiles, kt0 + per) - kt0);
  y += i64(blockIdx.z) * M * N;

  auto load_tile = [&](int stage, int kt) {
    const i64 k0 = i64(kt) * TC_BK;
#pragma unroll
    for (int c = tid; c < BM * TC_BK / 8; c += THREADS) {
      int r = c / (TC_BK / 8), kc = (c % (TC_BK / 8)) * 8;
      i64 gr = row0 + r;
      cp_async16(sA + (stage * BM + r) * TC_LDS + kc,
                 A + (gr < M ? gr : 0) * K + k0 + kc, gr < M);
    }
#pragma unroll
    for (int c = tid; c < BN * TC_BK / 8; c += THREADS) {
      int r = c / (TC_BK / 8), kc = (c % (TC_BK / 8)) * 8;
      i64 gn = col0 + r;
      cp_async16(sB + (stage * BN + r) * TC_LDS + kc,
                 W + (gn < N ? gn : 0) * K + k0 + kc, gn < N);
    }
  };

  float acc[MT][NT][4];
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e)
        acc[i][j][e] = 0.f;

#pragma unroll
  for (int s = 0; s < TC_STAGES - 1; ++s) {
    if (s < ktiles)
      load_tile(s, kt0 + s);
    asm volatile("cp.async.commit_group;\n");
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(TC_STAGES - 2));
    __syncthreads();
    int next = kt + TC_STAGES - 1;
    if (next < ktiles)
      load_tile(next % TC_STAGES, kt0 + next);
    asm volatile("cp.async.commit_group;\n");
    const unsigned short *a = sA + (kt % TC_STAGES) * BM * TC_LDS;
    const unsigned short *b = sB + (kt % TC_STAGES) * BN * TC_LDS;
#pragma unroll
    for (int kk = 0; kk < TC_BK; kk += 16) {
      unsigned af[MT][4], bf[NT][2];
#pragma unroll
      for (int i = 0; i < MT; ++i) {
        int r = wm * WM + i * 16 + (lane % 16);
        ldmatrix_x4(af[i], a + r * TC_LDS + kk + (lane / 16) * 8);
      }
#pragma unroll
      for (int j = 0; j < NT; j += 2) {
        int n = wn * WN + j * 8 + (lane % 8) + (lane / 16) * 8;
        unsigned r4[4];
        ldmatrix_x4(r4, b + n * TC_LDS + kk + ((lane / 8) % 2) * 8);
        bf[j][0] = r4[0];
        bf[j][1] = r4[1];
        bf[j + 1][0] = r4[2];
        bf[j + 1][1] = r4[3];
      }
#pragma unroll
      for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NT; ++j) {
          mma_16816_t<T>(acc[i][j], af[i], bf[j]);
        }
    }
  }
  asm volatile("cp.async.wait_group 0;\n");

  // Each thread holds (row lane/4 [+8], cols 2*(lane%4) + {0,1}) per tile.
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j)
#pragma unroll
      for (int half = 0; half < 2; ++half)
        epilogue_store_pair<T, TO>(
            acc[i][j][2 * half], acc[i][j][2 * half + 1], bias, residual, y,
            row0 + wm * WM + i * 16 + lane / 4 + half * 8,
            col0 + wn * WN + j * 8 + (lane % 4) * 2, M, N, act);
}

/// Sums the split-K partials [splits][M][N] and applies the epilogue. Its
/// arguments mirror the linear's (x, w unused) so epilogue fusion treats
/// both alike; `splits` comes in K's place.
template <typename T, typename TO>
__device__ void linear_tc_reduce(const float *partial, const T *bias,
                                 const TO *residual, TO *y, i64 M, i64 N,
                                 i64 splits, int act) {
  i64 i = i64(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= M * N)
    return;
  float v = 0.f;
  for (i64 z = 0; z < splits; ++z)
    v += partial[z * M * N + i];
  if (bias)
    v += to_f32(bias[i % N]);
  v = epilogue_act(v, act);
  if (residual)
    v += to_f32(residual[i]);
  y[i] = from_f32<TO>(v);
}

#define KUAI_LINEAR_TC_REDUCE(NAME, T, TO)                                     \
  extern "C" __global__ void NAME(const float *partial, const T *unused,       \
                                  const T *bias, const TO *residual, TO *y,    \
                                  i64 M, i64 N, i64 splits, int act) {         \
    kuai_grid_dependency_sync();                                               \
    linear_tc_reduce<T, TO>(partial, bias, residual, y, M, N, splits, act);    \
  }

#define KUAI_LINEAR_TC(NAME, T, TO, BM, BN, WMS, WNS)                          \
  extern "C" __global__ void __launch_bounds__(WMS *WNS * 32)                  \
      NAME(const T *x, const T *w, const T *bias, const TO *residual, TO *y,   \
           i64 M, i64 N, i64 K, int act) {                                     \
    kuai_grid_dependency_sync();                                               \
    linear_tc<T, TO, BM, BN, WMS, WNS>(x, w, bias, residual, y, M, N, K, act); \
  }

// Tiles: 128x128 over 8 warps for large row counts, 64x64 over 4 warps
// otherwise (more blocks for small M).
#ifdef KUAI_WITH_F16
KUAI_LINEAR_TC(kuai_linear_tc128_f16, kuai_f16, kuai_f16, 128, 128, 2, 4)
KUAI_LINEAR_TC(kuai_linear_tc64_f16, kuai_f16, kuai_f16, 64, 64, 2, 2)
KUAI_LINEAR_TC(kuai_linear_tc128_f16_out_f32, kuai_f16, float, 128, 128, 2, 4)
KUAI_LINEAR_TC(kuai_linear_tc64_f16_out_f32, kuai_f16, float, 64, 64, 2, 2)
KUAI_LINEAR_TC_REDUCE(kuai_linear_tc_reduce_f16, kuai_f16, kuai_f16)
KUAI_LINEAR_TC_REDUCE(kuai_linear_tc_reduce_f16_out_f32, kuai_f16, float)
#endif
#ifdef KUAI_WITH_BF16
KUAI_LINEAR_TC(kuai_linear_tc128_bf16, kuai_bf16, kuai_bf16, 128, 128, 2, 4)
KUAI_LINEAR_TC(kuai_linear_tc64_bf16, kuai_bf16, kuai_bf16, 64, 64, 2, 2)
KUAI_LINEAR_TC(kuai_linear_tc128_bf16_out_f32, kuai_bf16, float, 128, 128, 2, 4)
KUAI_LINEAR_TC(kuai_linear_tc64_bf16_out_f32, kuai_bf16, float, 64, 64, 2, 2)
KUAI_LINEAR_TC_REDUCE(kuai_linear_tc_reduce_bf16, kuai_bf16, kuai_bf16)
KUAI_LINEAR_TC_REDUCE(kuai_linear_tc_reduce_bf16_out_f32, kuai_bf16, float)
#endif
