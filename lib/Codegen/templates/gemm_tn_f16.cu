// Tensor-core GEMM template, fp16 in, fp32 accumulate, fp16 out:
//   C[M, N] = A[M, K] · W[N, K]ᵀ   (W in PyTorch's [out, in] layout)
// Compiled with NVRTC (or nvcc -ptx) for sm_80+. Block tile BM×BN×BK with
// a STAGES-deep cp.async pipeline; warps compute WM×WN sub-tiles with
// mma.sync m16n8k16 fed by ldmatrix. Rows of A beyond M are zero-filled, so
// M is arbitrary; N must be a multiple of BN and K of BK.
//
// First version of the GEMM family of the GPU backend (issue 4): no Hopper
// wgmma/TMA yet, no fused epilogue yet.

#ifndef BM
#define BM 128
#endif
#ifndef BN
#define BN 128
#endif
#define BK 32
#define STAGES 4
#define WARPS_M 2
#define WARPS_N 4
#define THREADS (WARPS_M * WARPS_N * 32)
#define WM (BM / WARPS_M) // rows per warp
#define WN (BN / WARPS_N) // cols per warp
#define MT (WM / 16)      // m16 tiles per warp
#define NT (WN / 8)       // n8 tiles per warp
#define LDS (BK + 8)      // padded row of a shared tile, in halves

#include "kuai_mma.cuh"

extern "C" __global__ void __launch_bounds__(THREADS)
    kuai_gemm_tn_f16(const half_t *__restrict__ A, const half_t *__restrict__ W,
                     half_t *__restrict__ C, int M, int N, int K) {
  extern __shared__ __align__(16) half_t smem[];
  half_t *sA = smem;                       // [STAGES][BM][LDS]
  half_t *sB = smem + STAGES * BM * LDS;   // [STAGES][BN][LDS]
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wm = warp / WARPS_N, wn = warp % WARPS_N;
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  const int ktiles = K / BK;

  // Each thread copies 16-byte chunks: BM*BK/8 chunks of A, BN*BK/8 of B.
  auto load_tile = [&](int stage, int kt) {
    const int k0 = kt * BK;
#pragma unroll
    for (int c = tid; c < BM * BK / 8; c += THREADS) {
      int r = c / (BK / 8), kc = (c % (BK / 8)) * 8;
      int gr = row0 + r;
      const half_t *src = A + (size_t)(gr < M ? gr : 0) * K + k0 + kc;
      cp_async16(sA + (stage * BM + r) * LDS + kc, src, gr < M);
    }
#pragma unroll
    for (int c = tid; c < BN * BK / 8; c += THREADS) {
      int r = c / (BK / 8), kc = (c % (BK / 8)) * 8;
      const half_t *src = W + (size_t)(col0 + r) * K + k0 + kc;
      cp_async16(sB + (stage * BN + r) * LDS + kc, src, true);
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
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < ktiles)
      load_tile(s, s);
    asm volatile("cp.async.commit_group;\n");
  }

  for (int kt = 0; kt < ktiles; ++kt) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(STAGES - 2));
    __syncthreads();
    int next = kt + STAGES - 1;
    if (next < ktiles)
      load_tile(next % STAGES, next);
    asm volatile("cp.async.commit_group;\n");

    const half_t *a = sA + (kt % STAGES) * BM * LDS;
    const half_t *b = sB + (kt % STAGES) * BN * LDS;
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
      unsigned af[MT][4], bf[NT][2];
#pragma unroll
      for (int i = 0; i < MT; ++i) {
        int r = wm * WM + i * 16 + (lane % 16);
        ldmatrix_x4(af[i], a + r * LDS + kk + (lane / 16) * 8);
      }
#pragma unroll
      for (int j = 0; j < NT; j += 2) {
        int n = wn * WN + j * 8 + (lane % 8) + (lane / 16) * 8;
        unsigned r[4];
        ldmatrix_x4(r, b + n * LDS + kk + ((lane / 8) % 2) * 8);
        bf[j][0] = r[0];
        bf[j][1] = r[1];
        bf[j + 1][0] = r[2];
        bf[j + 1][1] = r[3];
      }
#pragma unroll
      for (int i = 0; i < MT; ++i)
#pragma unroll
        for (int j = 0; j < NT; ++j)
          mma_16816(acc[i][j], af[i], bf[j]);
    }
  }
  asm volatile("cp.async.wait_group 0;\n");

  // Each thread holds (row lane/4 [+8], cols 2*(lane%4) + {0,1}) per tile.
#pragma unroll
  for (int i = 0; i < MT; ++i)
#pragma unroll
    for (int j = 0; j < NT; ++j) {
      int r = row0 + wm * WM + i * 16 + lane / 4;
      int c = col0 + wn * WN + j * 8 + (lane % 4) * 2;
      if (r < M)
        *(unsigned *)(C + (size_t)r * N + c) =
            pack_half2(acc[i][j][0], acc[i][j][1]);
      if (r + 8 < M)
        *(unsigned *)(C + (size_t)(r + 8) * N + c) =
            pack_half2(acc[i][j][2], acc[i][j][3]);
    }
}
