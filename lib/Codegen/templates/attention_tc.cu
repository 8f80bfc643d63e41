// Tensor-core attention (flash attention forward) for fp16 and bf16, head
// dims 32, 64 and 128, with the mask kinds of kuai.attention except `bias`:
// none, causal, sliding window, padding and causal + padding. Same contract
// and argument pack (AttnShape) as the generic kernels, any lengths (rows
// and keys past the ends are zero-filled and masked), GQA.
//
// One block = 64 query rows (4 warps x 16) of one (batch, head), looping
// over 64-key tiles with an online softmax in base 2; S = Q·Kᵀ and
// O += P·V on mma.sync m16n8k16 with fp32 accumulation, P kept in
// registers (rounded to the input type). Rows whose keys are all masked
// give zeros. Key/value tiles are double-buffered with cp.async: tile t+1
// is in flight while tile t is multiplied, so a block waits for one load
// latency, not one per tile. The second key buffer reuses the query tile's
// shared memory (the queries live in registers by then): 4 tiles of 64
// rows in all (37 KB at head dim 64; registers, not shared memory, bound
// the blocks an SM: at head dims up to 64 the launch bounds ask for 4
// blocks an SM, 128 registers a thread, which 32-bit positions in the mask
// loop make fit; measured on the H200 with attention_tc_check, BERT-base
// 32x128 25.5 -> 23.7 us and GPT-2 1x512 26.6 -> 20.7 us against 3 blocks).

#include "kuai_attention.cuh"
#include "kuai_mma.cuh"
#include "kuai_types.cuh"

#define ATC_BM 64
#define ATC_BN 64
#define ATC_THREADS 128
#define KUAI_NEG_INF __int_as_float(0xff800000)

template <typename T, int D>
__device__ void attention_tc(const T *Q, const T *K, const T *V,
                             const void *mask, T *O, const AttnShape &s,
                             float scale) {
  constexpr int LDS = D + 8, DK = D / 16, DN = D / 8, SN = ATC_BN / 8;
  extern __shared__ __align__(16) unsigned short atc_smem[];
  unsigned short *sQ = atc_smem;
  // Buffers of key/value tile t: sK0/sV0 for even t, sK1/sV1 for odd t.
  unsigned short *sK0 = atc_smem + ATC_BM * LDS, *sK1 = sQ,
                 *sV0 = sK0 + ATC_BN * LDS, *sV1 = sV0 + ATC_BN * LDS;
  __shared__ float sMask[ATC_BN];
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const i64 bh = blockIdx.y, b = bh / s.q_heads, h = bh % s.q_heads;
  const i64 hk = h / (s.q_heads / s.kv_heads);
  const i64 q0 = i64(blockIdx.x) * ATC_BM, shift = s.kv_len - s.q_len;
  const unsigned short *q =
      (const unsigned short *)Q + b * s.q_stride[0] + h * s.q_stride[1];
  const unsigned short *k =
      (const unsigned short *)K + b * s.k_stride[0] + hk * s.k_stride[1];
  const unsigned short *v =
      (const unsigned short *)V + b * s.v_stride[0] + hk * s.v_stride[1];
  const bool causal = s.mask_kind == MASK_CAUSAL ||
                      s.mask_kind == MASK_SLIDING ||
                      s.mask_kind == MASK_CAUSAL_PADDING;
  const bool padding =
      s.mask_kind == MASK_PADDING || s.mask_kind == MASK_CAUSAL_PADDING;
  const bool sliding = s.mask_kind == MASK_SLIDING && s.window > 0;
  const float log2e_scale = scale * 1.4426950408889634f;

  // 64 rows x D from `src` (row stride `stride`), rows >= `rows` zero.
  auto load = [&](unsigned short *dst, const unsigned short *src, i64 first,
                  i64 rows, i64 stride) {
    for (int c = tid; c < 64 * D / 8; c += ATC_THREADS) {
      int r = c / (D / 8), col = (c % (D / 8)) * 8;
      bool in = first + r < rows;
      cp_async16(dst + r * LDS + col, src + (in ? first + r : 0) * stride + col,
                 in);
    }
  };
  i64 lastRow = min(q0 + ATC_BM, s.q_len) - 1;
  i64 end = causal ? min(s.kv_len, lastRow + shift + 1) : s.kv_len;
  i64 begin = sliding ? max(i64(0), q0 + shift - s.window + 1) : 0;
  begin = begin / ATC_BN * ATC_BN;
  const i64 tiles = end > begin ? (end - begin + ATC_BN - 1) / ATC_BN : 0;
  // The queries and the first key/value tile in one group.
  load(sQ, q, q0, s.q_len, s.q_stride[2]);
  if (tiles > 0) {
    load(sK0, k, begin, s.kv_len, s.k_stride[2]);
    load(sV0, v, begin, s.kv_len, s.v_stride[2]);
  }
  asm volatile("cp.async.commit_group;\n");
  asm volatile("cp.async.wait_group 0;\n");
  __syncthreads();
  unsigned qf[DK][4];
#pragma unroll
  for (int kk = 0; kk < DK; ++kk)
    ldmatrix_x4(qf[kk],
                sQ + (warp * 16 + lane % 16) * LDS + kk * 16 + (lane / 16) * 8);

  float acc[DN][4];
#pragma unroll
  for (int j = 0; j < DN; ++j)
    acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.f;
  float m0 = KUAI_NEG_INF, m1 = KUAI_NEG_INF, l0 = 0.f, l1 = 0.f;
  const i64 row0 = q0 + warp * 16 + lane / 4; // rows row0 and row0 + 8

  for (i64 t = 0; t < tiles; ++t) {
    const i64 k0 = begin + t * ATC_BN;
    // Every warp is done with the tile before (and, at t = 0, with the
    // queries), whose buffers the next tile's loads now overwrite.
    __syncthreads();
    if (t + 1 < tiles) {
      load((t & 1) ? sK0 : sK1, k, k0 + ATC_BN, s.kv_len, s.k_stride[2]);
      load((t & 1) ? sV0 : sV1, v, k0 + ATC_BN, s.kv_len, s.v_stride[2]);
    }
    asm volatile("cp.async.commit_group;\n"); // possibly empty: one per tile
    const unsigned short *tK = (t & 1) ? sK1 : sK0, *tV = (t & 1) ? sV1 : sV0;
    if (tid < ATC_BN) {
      i64 col = k0 + tid;
      sMask[tid] = col >= s.kv_len ? 0.f
                   : padding ? mask_value(mask, s.mask_type, b * s.kv_len + col)
                             : 1.f;
    }
    asm volatile("cp.async.wait_group 1;\n"); // all but the next tile
    __syncthreads();

    float sc[SN][4];
#pragma unroll
    for (int j = 0; j < SN; ++j)
      sc[j][0] = sc[j][1] = sc[j][2] = sc[j][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < DK; ++kk)
#pragma unroll
      for (int j = 0; j < SN; j += 2) {
        unsigned r[4];
        ldmatrix_x4(r, tK + (j * 8 + (lane % 8) + (lane / 16) * 8) * LDS +
                           kk * 16 + ((lane / 8) % 2) * 8);
        unsigned b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
        mma_16816_t<T>(sc[j], qf[kk], b0);
        mma_16816_t<T>(sc[j + 1], qf[kk], b1);
      }
    float mx0 = m0, mx1 = m1;
    // 32-bit positions (lengths < 2^31): fewer registers than i64.
    const int colBase = int(k0), rowBase = int(row0) + int(shift),
              window = int(s.window);
#pragma unroll
    for (int j = 0; j < SN; ++j)
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        int c = j * 8 + (lane % 4) * 2 + (e % 2);
        const int col = colBase + c, shifted = rowBase + (e / 2) * 8;
        bool visible = sMask[c] != 0.f;
        if (causal)
          visible = visible && col <= shifted;
        if (sliding)
          visible = visible && shifted - col < window;
        float x = visible ? sc[j][e] * log2e_scale : KUAI_NEG_INF;
        sc[j][e] = x;
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
    // With every key so far masked the maximum is -inf: subtract 0 instead
    // (exp2(-inf) = 0 keeps masked entries and the empty state at zero).
    float base0 = mx0 == KUAI_NEG_INF ? 0.f : mx0;
    float base1 = mx1 == KUAI_NEG_INF ? 0.f : mx1;
    float c0 = exp2f(m0 - base0), c1 = exp2f(m1 - base1);
    m0 = mx0;
    m1 = mx1;
    float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
    for (int j = 0; j < SN; ++j) {
      sc[j][0] = exp2f(sc[j][0] - base0);
      sc[j][1] = exp2f(sc[j][1] - base0);
      sc[j][2] = exp2f(sc[j][2] - base1);
      sc[j][3] = exp2f(sc[j][3] - base1);
      sum0 += sc[j][0] + sc[j][1];
      sum1 += sc[j][2] + sc[j][3];
    }
    l0 = l0 * c0 + sum0; // per thread; reduced over the quad at the end
    l1 = l1 * c1 + sum1;
#pragma unroll
    for (int j = 0; j < DN; ++j) {
      acc[j][0] *= c0;
      acc[j][1] *= c0;
      acc[j][2] *= c1;
      acc[j][3] *= c1;
    }
#pragma unroll
    for (int c = 0; c < ATC_BN / 16; ++c) {
      unsigned pa[4] = {pack2_t<T>(sc[2 * c][0], sc[2 * c][1]),
                        pack2_t<T>(sc[2 * c][2], sc[2 * c][3]),
                        pack2_t<T>(sc[2 * c + 1][0], sc[2 * c + 1][1]),
                        pack2_t<T>(sc[2 * c + 1][2], sc[2 * c + 1][3])};
#pragma unroll
      for (int j = 0; j < DN; j += 2) {
        unsigned r[4];
        ldmatrix_x4_trans(r, tV + (c * 16 + lane % 16) * LDS + j * 8 +
                                 (lane / 16) * 8);
        unsigned b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
        mma_16816_t<T>(acc[j], pa, b0);
        mma_16816_t<T>(acc[j + 1], pa, b1);
      }
    }
  }
#pragma unroll
  for (int d = 1; d <= 2; d *= 2) {
    l0 += __shfl_xor_sync(0xffffffffu, l0, d);
    l1 += __shfl_xor_sync(0xffffffffu, l1, d);
  }
  float inv0 = l0 > 0.f ? 1.f / l0 : 0.f, inv1 = l1 > 0.f ? 1.f / l1 : 0.f;
  unsigned short *o =
      (unsigned short *)O + b * s.o_stride[0] + h * s.o_stride[1];
#pragma unroll
  for (int j = 0; j < DN; ++j) {
    int col = j * 8 + (lane % 4) * 2;
    if (row0 < s.q_len)
      *(unsigned *)(o + row0 * s.o_stride[2] + col) =
          pack2_t<T>(acc[j][0] * inv0, acc[j][1] * inv0);
    if (row0 + 8 < s.q_len)
      *(unsigned *)(o + (row0 + 8) * s.o_stride[2] + col) =
          pack2_t<T>(acc[j][2] * inv1, acc[j][3] * inv1);
  }
}

#define KUAI_ATTENTION_TC(SUFFIX, T, D)                                        \
  extern "C" __global__ void __launch_bounds__(ATC_THREADS, D <= 64 ? 4 : 1)   \
      kuai_attention_tc##D##_##SUFFIX(const T *q, const T *k, const T *v,      \
                                      const void *mask, T *o, AttnShape shape, \
                                      float scale) {                           \
    kuai_grid_dependency_sync();                                               \
    attention_tc<T, D>(q, k, v, mask, o, shape, scale);                        \
  }

#ifdef KUAI_WITH_F16
KUAI_ATTENTION_TC(f16, kuai_f16, 32)
KUAI_ATTENTION_TC(f16, kuai_f16, 64)
KUAI_ATTENTION_TC(f16, kuai_f16, 128)
#endif
#ifdef KUAI_WITH_BF16
KUAI_ATTENTION_TC(bf16, kuai_bf16, 32)
KUAI_ATTENTION_TC(bf16, kuai_bf16, 64)
KUAI_ATTENTION_TC(bf16, kuai_bf16, 128)
#endif
