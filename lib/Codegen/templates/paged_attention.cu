// Attention over a paged KV cache (kuai.paged_attention): the chunk's keys
// and values are first written into their pages (kuai_kv_append), then each
// query attends causally over its sequence's cached positions
// (kuai_paged_attention). Pages are [pages, kv_heads, page, d]: one kv head
// of one page is `page` contiguous rows. Sequence b's position t lives in
// page table[b * blocks + t / page], row t % page.
#include "kuai_attention.cuh"

#ifndef KUAI_PAGED_ATTENTION_CU
#define KUAI_PAGED_ATTENTION_CU

// Passed by value as consecutive 64-bit integers (the plan's `pack`).
struct PagedShape {
  i64 batch, q_heads, kv_heads, q_len, d, dv, page, blocks;
  // Element strides (batch, head, position) of q, k, v and o; the last dim
  // is contiguous.
  i64 q_stride[3], k_stride[3], v_stride[3], o_stride[3];
  i64 window; // 0: causal over every cached position
};

__device__ __forceinline__ float paged_warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

// Row of position t of sequence b, kv head h, in [pages, kv_heads, page].
__device__ __forceinline__ i64 paged_row(const int *table, const PagedShape &s,
                                         i64 b, i64 h, i64 t) {
  i64 p = table[b * s.blocks + t / s.page];
  return (p * s.kv_heads + h) * s.page + t % s.page;
}

// One thread per element of the chunk's keys (and values).
template <typename T>
__device__ void kv_append(const T *k, const T *v, T *kc, T *vc,
                          const int *table, const int *past,
                          const PagedShape &s) {
  i64 width = s.d > s.dv ? s.d : s.dv;
  i64 idx = i64(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= s.batch * s.kv_heads * s.q_len * width)
    return;
  i64 c = idx % width, i = (idx / width) % s.q_len,
      h = (idx / (width * s.q_len)) % s.kv_heads,
      b = idx / (width * s.q_len * s.kv_heads);
  i64 row = paged_row(table, s, b, h, past[b] + i);
  if (c < s.d)
    kc[row * s.d + c] =
        k[b * s.k_stride[0] + h * s.k_stride[1] + i * s.k_stride[2] + c];
  if (c < s.dv)
    vc[row * s.dv + c] =
        v[b * s.v_stride[0] + h * s.v_stride[1] + i * s.v_stride[2] + c];
}

// Online softmax of the warp's query row `qv` (scaled; lane l holds dims
// l, l + 32, ...) over positions [first, end) of sequence b, kv head hk:
// the running maximum m, sum l and unnormalised output acc.
template <typename T>
__device__ __forceinline__ void
paged_softmax(const float (&qv)[8], const T *kc, const T *vc, const int *table,
              const PagedShape &s, i64 b, i64 hk, i64 first, i64 end, float &m,
              float &l, float (&acc)[8]) {
  int lane = threadIdx.x & 31;
  m = -3.0e38f;
  l = 0.f;
  for (i64 j = first; j < end; ++j) {
    i64 r = paged_row(table, s, b, hk, j);
    const T *kr = kc + r * s.d;
    float dot = 0.f;
#pragma unroll
    for (int t = 0; t < 8; ++t) {
      i64 c = lane + 32 * t;
      if (c < s.d)
        dot += qv[t] * to_f32(kr[c]);
    }
    float score = paged_warp_sum(dot);
    float m_new = fmaxf(m, score);
    float correction = __expf(m - m_new), p = __expf(score - m_new);
    l = l * correction + p;
    const T *vr = vc + r * s.dv;
#pragma unroll
    for (int t = 0; t < 8; ++t) {
      i64 c = lane + 32 * t;
      acc[t] = acc[t] * correction + (c < s.dv ? p * to_f32(vr[c]) : 0.f);
    }
    m = m_new;
  }
}

// One warp per query row, online softmax over positions 0 .. past + i (or
// the last `window`), lanes splitting the head dims (at most 256).
template <typename T>
__device__ void paged_attention_rows(const T *q, const T *kc, const T *vc,
                                     const int *table, const int *past, T *o,
                                     const PagedShape &s, float scale) {
  int lane = threadIdx.x & 31;
  i64 row = i64(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= s.batch * s.q_heads * s.q_len)
    return;
  i64 i = row % s.q_len, h = (row / s.q_len) % s.q_heads,
      b = row / (s.q_len * s.q_heads);
  i64 hk = h / (s.q_heads / s.kv_heads);
  const T *qr = q + b * s.q_stride[0] + h * s.q_stride[1] + i * s.q_stride[2];
  float qv[8], acc[8];
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    i64 c = lane + 32 * t;
    qv[t] = c < s.d ? to_f32(qr[c]) * scale : 0.f;
    acc[t] = 0.f;
  }
  i64 last = past[b] + i;
  i64 begin = s.window > 0 && last - s.window + 1 > 0 ? last - s.window + 1 : 0;
  float m, l;
  paged_softmax(qv, kc, vc, table, s, b, hk, begin, last + 1, m, l, acc);
  T *orow = o + b * s.o_stride[0] + h * s.o_stride[1] + i * s.o_stride[2];
  float inv = l > 0.f ? 1.f / l : 0.f;
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    i64 c = lane + 32 * t;
    if (c < s.dv)
      orow[c] = from_f32<T>(acc[t] * inv);
  }
}

// Decode steps (one query per sequence) split the cached positions over
// many blocks (flash-decoding). Block (sequence, kv head, chunk of up to
// PAGED_SPLIT_HEADS query heads of its group; split) reads each key and
// value row of its `pages_per_split` pages once for all those query heads,
// in tiles of PAGED_SPLIT_TILE positions: (A) groups of lanes take one key
// each with 16-byte loads and write the dot products to shared memory,
// (B) a warp per head turns a tile's scores into probabilities (online
// softmax over the tiles), (C) each thread accumulates a 16-byte chunk of
// the value rows of some of the tile's positions. The block writes its
// unnormalised output, maximum and sum of each head to ws[split][row][dv +
// 2] (fp32; an empty split writes sum 0); kuai_paged_attention_combine
// merges the splits of each row. Rows whose dims are not multiples of the
// 16-byte vector are read element by element.
#define PAGED_SPLIT_THREADS 128
#define PAGED_SPLIT_HEADS 8
#define PAGED_SPLIT_TILE 64

// Row of position t of sequence b, kv head h (32-bit index arithmetic: the
// divisions are on the critical path of a decode step).
__device__ __forceinline__ i64 paged_row32(const int *table, i64 blocks,
                                           int page, int kv_heads, i64 b, int h,
                                           int t) {
  i64 p = table[b * blocks + t / page];
  return (p * kv_heads + h) * page + t % page;
}

// `count` (<= N) elements of p as floats, zero beyond: one 16-byte load
// when `vec` and all N are there.
template <typename T, int N>
__device__ __forceinline__ void paged_load(const T *p, int count, bool vec,
                                           float (&f)[N]) {
  if (vec && count == N) {
    uint4 u = __ldg(reinterpret_cast<const uint4 *>(p));
    unsigned w[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      if constexpr (sizeof(T) == 4) {
        f[i] = __uint_as_float(w[i]);
      } else {
        f[2 * i] = to_f32(T{(unsigned short)(w[i] & 0xffffu)});
        f[2 * i + 1] = to_f32(T{(unsigned short)(w[i] >> 16)});
      }
    }
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i)
      f[i] = i < count ? to_f32(p[i]) : 0.f;
  }
}

__device__ __forceinline__ float paged_warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

template <typename T>
__device__ void paged_attention_split(const T *q, const T *kc, const T *vc,
                                      const int *table, const int *past,
                                      float *ws, const PagedShape &s,
                                      float scale, i64 pages_per_split) {
  constexpr int VEC = 16 / sizeof(T), G = PAGED_SPLIT_HEADS,
                TILE = PAGED_SPLIT_TILE, WARPS = PAGED_SPLIT_THREADS / 32;
  constexpr int QCH = (256 / VEC + 31) / 32; // key chunks per lane, at most
  __shared__ float score[G][TILE];
  __shared__ float partial[8192]; // position groups' outputs, see below
  __shared__ float run_max[G], run_sum[G], rescale[G];

  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int group = int(s.q_heads / s.kv_heads), chunks = (group + G - 1) / G;
  const int kv_heads = int(s.kv_heads), page = int(s.page);
  const int d = int(s.d), dv = int(s.dv);
  const int hc = blockIdx.x % chunks, hk = (blockIdx.x / chunks) % kv_heads;
  const i64 b = blockIdx.x / (chunks * kv_heads), split = blockIdx.y;
  const int h0 = hk * group + hc * G, gn = min(G, group - hc * G);
  const i64 last = past[b];
  const i64 begin =
      s.window > 0 && last - s.window + 1 > 0 ? last - s.window + 1 : 0;
  i64 first = split * pages_per_split * s.page;
  const i64 end = min(last + 1, first + pages_per_split * s.page);
  first = max(first, begin);
  float *out =
      ws + (split * s.batch * s.q_heads + b * s.q_heads + h0) * (s.dv + 2);
  if (first >= end) { // a split past the sequence's end (or its window)
    if (tid < gn) {
      out[tid * (dv + 2) + dv] = -3.0e38f;
      out[tid * (dv + 2) + dv + 1] = 0.f;
    }
    return;
  }

  // (A)'s mapping: lp lanes per key, each holding QCH chunks of the scaled
  // query rows of the gn heads.
  const bool vec = d % VEC == 0 && dv % VEC == 0;
  const int kch = (d + VEC - 1) / VEC;
  int lp = 1;
  while (lp < kch && lp < 32)
    lp <<= 1;
  const int keys_per_warp = 32 / lp, kl = lane % lp;
  float qf[G][QCH][VEC];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int k = 0; k < QCH; ++k) {
      int c = kl + k * lp, count = c < kch ? min(VEC, d - c * VEC) : 0;
      const T *qr = q + b * s.q_stride[0] + (h0 + g) * s.q_stride[1] + c * VEC;
#pragma unroll
      for (int e = 0; e < VEC; ++e)
        qf[g][k][e] = g < gn && e < count ? to_f32(qr[e]) * scale : 0.f;
    }
  // (C)'s mapping: thread = (position group pg, value chunk vj).
  const int vch = (dv + VEC - 1) / VEC, groups = PAGED_SPLIT_THREADS / vch;
  const int pg = tid / vch, vj = tid % vch, vcount = min(VEC, dv - vj * VEC);
  float acc[G][VEC];
#pragma unroll
  for (int g = 0; g < G; ++g)
#pragma unroll
    for (int e = 0; e < VEC; ++e)
      acc[g][e] = 0.f;
  if (tid < G) {
    run_max[tid] = -3.0e38f;
    run_sum[tid] = 0.f;
  }
  __syncthreads();

  for (i64 t0 = first; t0 < end; t0 += TILE) {
    const int n = int(min(i64(TILE), end - t0));
    // (A) scores of the tile's keys for every head.
    for (int base = warp * keys_per_warp; base < n;
         base += WARPS * keys_per_warp) {
      int p = base + lane / lp;
      float dot[G];
#pragma unroll
      for (int g = 0; g < G; ++g)
        dot[g] = 0.f;
      if (p < n) {
        const T *kr = kc + paged_row32(table, s.blocks, page, kv_heads, b, hk,
                                       int(t0 + p)) *
                               d;
#pragma unroll
        for (int k = 0; k < QCH; ++k) {
          int c = kl + k * lp;
          if (c < kch) {
            float kf[VEC];
            paged_load(kr + c * VEC, min(VEC, d - c * VEC), vec, kf);
#pragma unroll
            for (int g = 0; g < G; ++g)
#pragma unroll
              for (int e = 0; e < VEC; ++e)
                dot[g] += qf[g][k][e] * kf[e];
          }
        }
      }
#pragma unroll
      for (int g = 0; g < G; ++g) {
        if (g < gn) {
          for (int o = lp >> 1; o > 0; o >>= 1)
            dot[g] += __shfl_xor_sync(0xffffffffu, dot[g], o);
          if (p < n && kl == 0)
            score[g][p] = dot[g];
        }
      }
    }
    __syncthreads();
    // (B) probabilities, running maximum and sum per head.
    for (int g = warp; g < gn; g += WARPS) {
      float tile_max = -3.0e38f;
      for (int p = lane; p < n; p += 32)
        tile_max = fmaxf(tile_max, score[g][p]);
      float m_old = run_max[g], m_new = fmaxf(m_old, paged_warp_max(tile_max));
      float sum = 0.f;
      for (int p = lane; p < n; p += 32) {
        float e = __expf(score[g][p] - m_new);
        score[g][p] = e;
        sum += e;
      }
      sum = paged_warp_sum(sum);
      if (lane == 0) {
        float correction = __expf(m_old - m_new);
        rescale[g] = correction;
        run_sum[g] = run_sum[g] * correction + sum;
        run_max[g] = m_new;
      }
    }
    __syncthreads();
    // (C) the tile's values weighted by the probabilities.
    if (pg < groups) {
#pragma unroll
      for (int g = 0; g < G; ++g)
#pragma unroll
        for (int e = 0; e < VEC; ++e)
          acc[g][e] *= g < gn ? rescale[g] : 0.f;
      for (int p = pg; p < n; p += groups) {
        const T *vr = vc + paged_row32(table, s.blocks, page, kv_heads, b, hk,
                                       int(t0 + p)) *
                               dv;
        float vf[VEC];
        paged_load(vr + vj * VEC, vcount, vec, vf);
#pragma unroll
        for (int g = 0; g < G; ++g) {
          float w = g < gn ? score[g][p] : 0.f;
#pragma unroll
          for (int e = 0; e < VEC; ++e)
            acc[g][e] += w * vf[e];
        }
      }
    }
    __syncthreads();
  }

  // Sum the position groups' outputs: groups * G * dv <= 128 * VEC * G
  // floats, since vch * VEC >= dv.
  if (pg < groups) {
#pragma unroll
    for (int g = 0; g < G; ++g)
#pragma unroll
      for (int e = 0; e < VEC; ++e)
        if (g < gn && e < vcount)
          partial[(pg * G + g) * dv + vj * VEC + e] = acc[g][e];
  }
  __syncthreads();
  for (int i = tid; i < gn * dv; i += PAGED_SPLIT_THREADS) {
    int g = i / dv, col = i % dv;
    float sum = 0.f;
    for (int j = 0; j < groups; ++j)
      sum += partial[(j * G + g) * dv + col];
    out[g * (dv + 2) + col] = sum;
  }
  if (tid < gn) {
    out[tid * (dv + 2) + dv] = run_max[tid];
    out[tid * (dv + 2) + dv + 1] = run_sum[tid];
  }
}

// One warp per row: out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M).
// Lanes read the splits' maxima and sums in parallel; the weights reach
// every lane by shuffles.
template <typename T>
__device__ void paged_attention_combine(const float *ws, T *o,
                                        const PagedShape &s,
                                        i64 pages_per_split) {
  int lane = threadIdx.x & 31;
  i64 splits = (s.blocks + pages_per_split - 1) / pages_per_split;
  i64 rows = s.batch * s.q_heads, stride = rows * (s.dv + 2);
  i64 row = i64(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows)
    return;
  const float *base = ws + row * (s.dv + 2);
  float big = -3.0e38f;
  for (i64 sp = lane; sp < splits; sp += 32)
    big = fmaxf(big, base[sp * stride + s.dv]);
  big = paged_warp_max(big);
  float total = 0.f, acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  for (i64 first = 0; first < splits; first += 32) {
    float weight = 0.f;
    if (first + lane < splits) {
      const float *part = base + (first + lane) * stride;
      float l = part[s.dv + 1];
      weight = l > 0.f ? __expf(part[s.dv] - big) : 0.f;
      total += l * weight;
    }
    int n = int(min(i64(32), splits - first));
#pragma unroll 4
    for (int j = 0; j < n; ++j) {
      float w = __shfl_sync(0xffffffffu, weight, j);
      const float *part = base + (first + j) * stride;
#pragma unroll
      for (int t = 0; t < 8; ++t) {
        i64 c = lane + 32 * t;
        if (c < s.dv && w > 0.f)
          acc[t] += part[c] * w;
      }
    }
  }
  total = paged_warp_sum(total);
  i64 h = row % s.q_heads, b = row / s.q_heads;
  T *orow = o + b * s.o_stride[0] + h * s.o_stride[1];
  float inv = total > 0.f ? 1.f / total : 0.f;
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    i64 c = lane + 32 * t;
    if (c < s.dv)
      orow[c] = from_f32<T>(acc[t] * inv);
  }
}

// Greedy decoding on the GPU: the index of each row's largest value (the
// lowest index among equals), so a decode step reads back one id per
// sequence instead of its logits. One block of ARGMAX_THREADS per row, each
// thread streaming 16-byte chunks (ARGMAX_UNROLL in flight) when the row
// allows it.
#define ARGMAX_THREADS 1024
#define ARGMAX_UNROLL 4
// +inf without math headers (NVRTC has none).
#define SAMPLE_INF __int_as_float(0x7f800000)

// Keeps (v, at) or takes (ov, oat): the larger value, the lower index
// among equals.
__device__ __forceinline__ void argmax_take(float &v, int &at, float ov,
                                            int oat) {
  if (ov > v || (ov == v && oat < at)) {
    v = ov;
    at = oat;
  }
}

template <typename T>
__device__ void argmax_rows(const T *x, int *ids, i64 columns) {
  constexpr int VEC = 16 / sizeof(T);
  __shared__ float best[ARGMAX_THREADS / 32];
  __shared__ int where[ARGMAX_THREADS / 32];
  const T *row = x + i64(blockIdx.x) * columns;
  float v = -SAMPLE_INF; // -FLT_MAX can win; NaN and -inf never do
  int at = 0x7fffffff;
  bool vec =
      columns % VEC == 0 && reinterpret_cast<unsigned long long>(row) % 16 == 0;
  if (vec) {
    // Chunks in increasing order per thread, elements in order within a
    // chunk: a strict comparison keeps each thread's first maximum.
    i64 n = columns / VEC;
    for (i64 c0 = threadIdx.x; c0 < n; c0 += ARGMAX_THREADS * ARGMAX_UNROLL) {
      float f[ARGMAX_UNROLL][VEC];
#pragma unroll
      for (int u = 0; u < ARGMAX_UNROLL; ++u) {
        i64 c = c0 + i64(u) * ARGMAX_THREADS;
        paged_load(row + c * VEC, c < n ? VEC : 0, c < n, f[u]);
      }
#pragma unroll
      for (int u = 0; u < ARGMAX_UNROLL; ++u) {
        i64 c = c0 + i64(u) * ARGMAX_THREADS;
#pragma unroll
        for (int e = 0; e < VEC; ++e)
          if (c < n && f[u][e] > v) {
            v = f[u][e];
            at = int(c * VEC + e);
          }
      }
    }
  } else {
    for (i64 c = threadIdx.x; c < columns; c += ARGMAX_THREADS) {
      float f = to_f32(row[c]);
      if (f > v) {
        v = f;
        at = int(c);
      }
    }
  }
#pragma unroll
  for (int o = 16; o > 0; o >>= 1)
    argmax_take(v, at, __shfl_xor_sync(0xffffffffu, v, o),
                __shfl_xor_sync(0xffffffffu, at, o));
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    best[warp] = v;
    where[warp] = at;
  }
  __syncthreads();
  if (warp == 0) {
    v = best[lane];
    at = where[lane];
#pragma unroll
    for (int o = 16; o > 0; o >>= 1)
      argmax_take(v, at, __shfl_xor_sync(0xffffffffu, v, o),
                  __shfl_xor_sync(0xffffffffu, at, o));
    if (lane == 0)
      ids[blockIdx.x] = at == 0x7fffffff ? 0 : at;
  }
}

// Sampling on the GPU, by the definition of include/kuai/sampling.h: for
// the last position of each sequence whose temperature is above 0, replaces
// the argmax in ids. params[b] = {temperature, top_k, top_p, u}. One block
// of ARGMAX_THREADS per sequence. The k-th largest logit and the top-p
// cut are found by radix selection over order-preserving 32-bit keys of
// the logits (8-bit digits, most significant first), with a 256-bin
// histogram of counts (top-k) or of weights (top-p) per round; the draw is
// a prefix sum over contiguous slices of the row, one per thread.
#define SAMPLE_BINS 256

// Order-preserving key of a float (NaN lowest, with -inf; -0 as +0).
__device__ __forceinline__ unsigned sample_key(float x) {
  if (x != x)
    return 0u;
  if (x == 0.f)
    x = 0.f;
  unsigned u = __float_as_uint(x);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

template <typename T> struct SampleRow {
  const T *x;
  __device__ float value(i64 i) const {
    float v = to_f32(x[i]);
    return v != v ? -SAMPLE_INF : v;
  }
};

// The largest key c such that the count (by_weight: the sum of weights)
// of elements with key >= c and key >= floor reaches `need`.
template <typename T>
__device__ unsigned
sample_select(const SampleRow<T> &row, i64 n, unsigned floor, bool by_weight,
              float top, float inv_t, float need, float *hist,
              unsigned *shared_prefix, float *shared_above) {
  unsigned prefix = 0;
  float above = 0.f;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < SAMPLE_BINS; i += blockDim.x)
      hist[i] = 0.f;
    __syncthreads();
    unsigned high = shift == 24 ? 0u : prefix >> (shift + 8);
    for (i64 i = threadIdx.x; i < n; i += blockDim.x) {
      float v = row.value(i);
      unsigned key = sample_key(v);
      if (key < floor || (shift < 24 && (key >> (shift + 8)) != high))
        continue;
      float add = by_weight ? __expf((v - top) * inv_t) : 1.f;
      atomicAdd(&hist[(key >> shift) & 0xffu], add);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      int digit = 0;
      for (int d = SAMPLE_BINS - 1; d >= 0; --d) {
        if (above + hist[d] >= need || d == 0) {
          digit = d;
          break;
        }
        above += hist[d];
      }
      prefix |= unsigned(digit) << shift;
      *shared_prefix = prefix;
      *shared_above = above;
    }
    __syncthreads();
    prefix = *shared_prefix;
    above = *shared_above;
    __syncthreads();
  }
  return prefix;
}

// The block's maximum (take_max) or sum of v, returned to every thread;
// `red` holds a value per warp, `result` one.
__device__ float sample_block_reduce(float v, bool take_max, float *red,
                                     float *result) {
  v = take_max ? paged_warp_max(v) : paged_warp_sum(v);
  __syncthreads(); // `red` may still be read by an earlier reduction
  if ((threadIdx.x & 31) == 0)
    red[threadIdx.x >> 5] = v;
  __syncthreads();
  if (threadIdx.x == 0) {
    float t = red[0];
    for (int w = 1; w < int(blockDim.x >> 5); ++w)
      t = take_max ? fmaxf(t, red[w]) : t + red[w];
    *result = t;
  }
  __syncthreads();
  float out = *result;
  __syncthreads();
  return out;
}

template <typename T>
__device__ void sample_rows(const T *x, const float *params, int *ids,
                            i64 columns, i64 seq) {
  __shared__ float hist[SAMPLE_BINS];
  __shared__ float partial[ARGMAX_THREADS];
  __shared__ float red[ARGMAX_THREADS / 32];
  __shared__ unsigned shared_prefix;
  __shared__ float shared_above, shared_reduced;
  const i64 b = blockIdx.x;
  const float temperature = params[b * 4], top_p = params[b * 4 + 2],
              u = params[b * 4 + 3];
  const i64 top_k = i64(params[b * 4 + 1]);
  if (!(temperature > 0.f))
    return; // greedy: the argmax stays
  const i64 r = b * seq + seq - 1;
  SampleRow<T> row{x + r * columns};
  const int tid = threadIdx.x;
  float top = -SAMPLE_INF;
  for (i64 i = tid; i < columns; i += blockDim.x)
    top = fmaxf(top, row.value(i));
  top = sample_block_reduce(top, true, red, &shared_reduced);
  if (top == SAMPLE_INF || top == -SAMPLE_INF)
    return; // no finite weights: the first maximum (the argmax) stays
  const float inv_t = 1.f / temperature;
  unsigned cut = 0;
  if (top_k > 0 && top_k < columns)
    cut = sample_select(row, columns, 0u, false, top, inv_t, float(top_k), hist,
                        &shared_prefix, &shared_above);
  if (top_p < 1.f) {
    float total = 0.f;
    for (i64 i = tid; i < columns; i += blockDim.x) {
      float v = row.value(i);
      if (sample_key(v) >= cut)
        total += __expf((v - top) * inv_t);
    }
    total = sample_block_reduce(total, false, red, &shared_reduced);
    cut = max(cut,
              sample_select(row, columns, cut, true, top, inv_t, top_p * total,
                            hist, &shared_prefix, &shared_above));
  }
  // The draw: thread t sums the weights of its contiguous slice; thread 0
  // finds the slice holding u * total, whose thread finds the index.
  const i64 slice = (columns + blockDim.x - 1) / blockDim.x;
  const i64 begin = min(columns, tid * slice),
            end = min(columns, begin + slice);
  float mine = 0.f;
  for (i64 i = begin; i < end; ++i) {
    float v = row.value(i);
    if (sample_key(v) >= cut)
      mine += __expf((v - top) * inv_t);
  }
  partial[tid] = mine;
  __syncthreads();
  if (tid == 0) {
    float total = 0.f;
    for (int t = 0; t < int(blockDim.x); ++t)
      total += partial[t];
    float target = u * total, before = 0.f, left = SAMPLE_INF;
    int owner = -1;
    for (int t = 0; t < int(blockDim.x); ++t) {
      if (partial[t] > 0.f) {
        owner = t;
        if (before + partial[t] > target) {
          left = target - before;
          break;
        }
      }
      before += partial[t];
    }
    // Should rounding run past the end: the last index with weight.
    shared_prefix = unsigned(owner);
    shared_above = left;
  }
  __syncthreads();
  if (tid == int(shared_prefix)) {
    float left = shared_above, running = 0.f;
    i64 pick = -1;
    for (i64 i = begin; i < end; ++i) {
      float v = row.value(i);
      if (sample_key(v) < cut)
        continue;
      running += __expf((v - top) * inv_t);
      pick = i;
      if (running > left)
        break;
    }
    if (pick >= 0)
      ids[r] = int(pick);
  }
}

#define KUAI_PAGED_KERNELS(SUFFIX, T)                                          \
  extern "C" __global__ void __launch_bounds__(ARGMAX_THREADS)                 \
      kuai_argmax_##SUFFIX(const T *x, int *ids, i64 columns) {                \
    kuai_grid_dependency_sync();                                               \
    argmax_rows<T>(x, ids, columns);                                           \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(ARGMAX_THREADS)                 \
      kuai_sample_##SUFFIX(const T *x, const float *params, int *ids,          \
                           i64 columns, i64 seq) {                             \
    kuai_grid_dependency_sync();                                               \
    sample_rows<T>(x, params, ids, columns, seq);                              \
  }                                                                            \
  extern "C" __global__ void kuai_kv_append_##SUFFIX(                          \
      const T *k, const T *v, T *kc, T *vc, const int *table, const int *past, \
      PagedShape shape) {                                                      \
    kuai_grid_dependency_sync();                                               \
    kv_append<T>(k, v, kc, vc, table, past, shape);                            \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(PAGED_SPLIT_THREADS)            \
      kuai_paged_attention_split_##SUFFIX(                                     \
          const T *q, const T *kc, const T *vc, const int *table,              \
          const int *past, float *ws, PagedShape shape, float scale,           \
          i64 pages_per_split) {                                               \
    kuai_grid_dependency_sync();                                               \
    paged_attention_split<T>(q, kc, vc, table, past, ws, shape, scale,         \
                             pages_per_split);                                 \
  }                                                                            \
  extern "C" __global__ void kuai_paged_attention_combine_##SUFFIX(            \
      const float *ws, T *o, PagedShape shape, i64 pages_per_split) {          \
    kuai_grid_dependency_sync();                                               \
    paged_attention_combine<T>(ws, o, shape, pages_per_split);                 \
  }                                                                            \
  extern "C" __global__ void kuai_paged_attention_##SUFFIX(                    \
      const T *q, const T *kc, const T *vc, const int *table, const int *past, \
      T *o, PagedShape shape, float scale) {                                   \
    kuai_grid_dependency_sync();                                               \
    paged_attention_rows<T>(q, kc, vc, table, past, o, shape, scale);          \
  }

#ifdef KUAI_WITH_F32
KUAI_PAGED_KERNELS(f32, float)
#endif
#ifdef KUAI_WITH_F16
KUAI_PAGED_KERNELS(f16, kuai_f16)
#endif
#ifdef KUAI_WITH_BF16
KUAI_PAGED_KERNELS(bf16, kuai_bf16)
#endif

#endif
