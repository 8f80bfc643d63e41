// Flash attention forward (prefill) template, fp16 in, fp32 softmax and
// accumulation, fp16 out. Q [B, Hq, S, D], K and V [B, Hkv, S, D] (grouped
// query attention: query head h reads kv head h / (Hq / Hkv)), O like Q.
// One block = 64 query rows (4 warps x 16), looping over 64-key tiles with
// an online softmax; S = Q·Kᵀ and O += P·V on mma.sync m16n8k16, P kept in
// registers. CAUSAL masks keys after the query. S must be a multiple of 64.

#ifndef HEAD_DIM
#define HEAD_DIM 128
#endif
#ifndef CAUSAL
#define CAUSAL 1
#endif
#define BLOCK_M 64
#define BLOCK_N 64
#define THREADS 128
#define LDS (HEAD_DIM + 8) // padded shared row, in halves
#define DK (HEAD_DIM / 16) // k16 chunks of the head dim
#define DN (HEAD_DIM / 8)  // n8 tiles of the output
#define SN (BLOCK_N / 8)   // n8 tiles of the scores

#include "kuai_mma.cuh"

// NVRTC has no math.h.
#define KUAI_INF __int_as_float(0x7f800000)

extern "C" __global__ void __launch_bounds__(THREADS)
    kuai_flash_attn_fwd_f16(const half_t *__restrict__ Q,
                            const half_t *__restrict__ K,
                            const half_t *__restrict__ V,
                            half_t *__restrict__ O, int S, int Hq, int Hkv,
                            float scale) {
  extern __shared__ __align__(16) half_t smem[];
  half_t *sQ = smem, *sK = sQ + BLOCK_M * LDS, *sV = sK + BLOCK_N * LDS;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int bh = blockIdx.y, b = bh / Hq, h = bh % Hq;
  const int hk = h / (Hq / Hkv);
  const int q0 = blockIdx.x * BLOCK_M;
  const half_t *q = Q + ((size_t)(b * Hq + h) * S + q0) * HEAD_DIM;
  const half_t *k = K + (size_t)(b * Hkv + hk) * S * HEAD_DIM;
  const half_t *v = V + (size_t)(b * Hkv + hk) * S * HEAD_DIM;
  half_t *o = O + ((size_t)(b * Hq + h) * S + q0) * HEAD_DIM;
  const float log2e_scale = scale * 1.4426950408889634f;

  auto load = [&](half_t *dst, const half_t *src) { // 64 rows x HEAD_DIM
    for (int c = tid; c < 64 * HEAD_DIM / 8; c += THREADS) {
      int r = c / (HEAD_DIM / 8), col = (c % (HEAD_DIM / 8)) * 8;
      cp_async16(dst + r * LDS + col, src + (size_t)r * HEAD_DIM + col);
    }
  };
  load(sQ, q);
  asm volatile("cp.async.commit_group;\n");
  asm volatile("cp.async.wait_group 0;\n");
  __syncthreads();
  unsigned qf[DK][4];
#pragma unroll
  for (int kk = 0; kk < DK; ++kk)
    ldmatrix_x4(qf[kk], sQ + (warp * 16 + lane % 16) * LDS + kk * 16 + (lane / 16) * 8);

  float acc[DN][4];
#pragma unroll
  for (int j = 0; j < DN; ++j)
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  float m0 = -KUAI_INF, m1 = -KUAI_INF, l0 = 0.f, l1 = 0.f; // rows g, g+8
  const int row0 = q0 + warp * 16 + lane / 4; // this thread's first row

  const int tiles = CAUSAL ? (q0 + BLOCK_M) / BLOCK_N : S / BLOCK_N;
  for (int t = 0; t < tiles; ++t) {
    const int k0 = t * BLOCK_N;
    __syncthreads(); // previous tile fully used
    load(sK, k + (size_t)k0 * HEAD_DIM);
    load(sV, v + (size_t)k0 * HEAD_DIM);
    asm volatile("cp.async.commit_group;\n");
    asm volatile("cp.async.wait_group 0;\n");
    __syncthreads();

    float s[SN][4];
#pragma unroll
    for (int j = 0; j < SN; ++j)
      s[j][0] = s[j][1] = s[j][2] = s[j][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < DK; ++kk)
#pragma unroll
      for (int j = 0; j < SN; j += 2) {
        unsigned r[4];
        ldmatrix_x4(r, sK + (j * 8 + (lane % 8) + (lane / 16) * 8) * LDS + kk * 16 +
                       ((lane / 8) % 2) * 8);
        unsigned b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
        mma_16816(s[j], qf[kk], b0);
        mma_16816(s[j + 1], qf[kk], b1);
      }
    // Scale (base 2), mask, online softmax over this thread's two rows.
    float mx0 = m0, mx1 = m1;
#pragma unroll
    for (int j = 0; j < SN; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int col = k0 + j * 8 + (lane % 4) * 2 + (e % 2);
        int row = row0 + (e / 2) * 8;
        float x = s[j][e] * log2e_scale;
        if (CAUSAL && col > row)
          x = -KUAI_INF;
        s[j][e] = x;
        if (e < 2)
          mx0 = fmaxf(mx0, x);
        else
          mx1 = fmaxf(mx1, x);
      }
#pragma unroll
    for (int d = 1; d <= 2; d *= 2) {
      mx0 = fmaxf(mx0, __shfl_xor_sync(0xffffffffu, mx0, d));
      mx1 = fmaxf(mx1, __shfl_xor_sync(0xffffffffu, mx1, d));
    }
    float c0 = exp2f(m0 - mx0), c1 = exp2f(m1 - mx1); // rescale old state
    m0 = mx0;
    m1 = mx1;
    float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
    for (int j = 0; j < SN; ++j) {
      s[j][0] = exp2f(s[j][0] - m0);
      s[j][1] = exp2f(s[j][1] - m0);
      s[j][2] = exp2f(s[j][2] - m1);
      s[j][3] = exp2f(s[j][3] - m1);
      sum0 += s[j][0] + s[j][1];
      sum1 += s[j][2] + s[j][3];
    }
    l0 = l0 * c0 + sum0; // per-thread partial; reduced across the quad at the end
    l1 = l1 * c1 + sum1;
#pragma unroll
    for (int j = 0; j < DN; ++j) {
      acc[j][0] *= c0;
      acc[j][1] *= c0;
      acc[j][2] *= c1;
      acc[j][3] *= c1;
    }
    // O += P·V: P's accumulator pairs are the A fragments of k16 chunks.
#pragma unroll
    for (int c = 0; c < BLOCK_N / 16; ++c) {
      unsigned pa[4] = {pack_half2(s[2 * c][0], s[2 * c][1]),
                        pack_half2(s[2 * c][2], s[2 * c][3]),
                        pack_half2(s[2 * c + 1][0], s[2 * c + 1][1]),
                        pack_half2(s[2 * c + 1][2], s[2 * c + 1][3])};
#pragma unroll
      for (int j = 0; j < DN; j += 2) {
        unsigned r[4];
        ldmatrix_x4_trans(r, sV + (c * 16 + lane % 16) * LDS + j * 8 + (lane / 16) * 8);
        unsigned b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
        mma_16816(acc[j], pa, b0);
        mma_16816(acc[j + 1], pa, b1);
      }
    }
  }
#pragma unroll
  for (int d = 1; d <= 2; d *= 2) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, d);
    l1 += __shfl_xor_sync(0xffffffffu, l1, d);
  }
  float inv0 = l0 > 0 ? 1.f / l0 : 0.f, inv1 = l1 > 0 ? 1.f / l1 : 0.f;
  const int r = warp * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < DN; ++j) {
    int col = j * 8 + (lane % 4) * 2;
    *(unsigned *)(o + (size_t)r * HEAD_DIM + col) =
        pack_half2(acc[j][0] * inv0, acc[j][1] * inv0);
    *(unsigned *)(o + (size_t)(r + 8) * HEAD_DIM + col) =
        pack_half2(acc[j][2] * inv1, acc[j][3] * inv1);
  }
}
