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
// many warps (flash-decoding): block (row, split) runs the online softmax
// over the positions of `pages_per_split` pages and writes its unnormalised
// output, maximum and sum to ws[split][row][dv + 2] (fp32);
// kuai_paged_attention_combine merges the splits of each row.
template <typename T>
__device__ void paged_attention_split(const T *q, const T *kc, const T *vc,
                                      const int *table, const int *past,
                                      float *ws, const PagedShape &s,
                                      float scale, i64 pages_per_split) {
  int lane = threadIdx.x & 31;
  i64 row = blockIdx.x, split = blockIdx.y, rows = gridDim.x;
  i64 h = row % s.q_heads, b = row / s.q_heads;
  i64 hk = h / (s.q_heads / s.kv_heads);
  const T *qr = q + b * s.q_stride[0] + h * s.q_stride[1];
  float qv[8], acc[8];
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    i64 c = lane + 32 * t;
    qv[t] = c < s.d ? to_f32(qr[c]) * scale : 0.f;
    acc[t] = 0.f;
  }
  i64 last = past[b];
  i64 begin = s.window > 0 && last - s.window + 1 > 0 ? last - s.window + 1 : 0;
  i64 first = split * pages_per_split * s.page;
  i64 end = min(last + 1, first + pages_per_split * s.page);
  first = max(first, begin);
  float m, l;
  paged_softmax(qv, kc, vc, table, s, b, hk, first, end, m, l, acc);
  float *out = ws + (split * rows + row) * (s.dv + 2);
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    i64 c = lane + 32 * t;
    if (c < s.dv)
      out[c] = acc[t];
  }
  if (lane == 0) {
    out[s.dv] = m;
    out[s.dv + 1] = l;
  }
}

// One warp per row: out = sum_s acc_s e^(m_s - M) / sum_s l_s e^(m_s - M).
template <typename T>
__device__ void paged_attention_combine(const float *ws, T *o,
                                        const PagedShape &s,
                                        i64 pages_per_split) {
  int lane = threadIdx.x & 31;
  i64 splits = (s.blocks + pages_per_split - 1) / pages_per_split;
  i64 rows = s.batch * s.q_heads;
  i64 row = i64(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= rows)
    return;
  float big = -3.0e38f;
  for (i64 sp = 0; sp < splits; ++sp)
    big = fmaxf(big, ws[(sp * rows + row) * (s.dv + 2) + s.dv]);
  float total = 0.f, acc[8] = {0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f, 0.f};
  for (i64 sp = 0; sp < splits; ++sp) {
    const float *part = ws + (sp * rows + row) * (s.dv + 2);
    float l = part[s.dv + 1];
    if (l == 0.f)
      continue; // a split past the sequence's end
    float weight = __expf(part[s.dv] - big);
    total += l * weight;
#pragma unroll
    for (int t = 0; t < 8; ++t) {
      i64 c = lane + 32 * t;
      if (c < s.dv)
        acc[t] += part[c] * weight;
    }
  }
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
// sequence instead of its logits. One block of 256 threads per row.
template <typename T>
__device__ void argmax_rows(const T *x, int *ids, i64 columns) {
  __shared__ float best[256];
  __shared__ int where[256];
  const T *row = x + i64(blockIdx.x) * columns;
  float v = -3.4e38f;
  int at = 0x7fffffff;
  for (i64 c = threadIdx.x; c < columns; c += blockDim.x) {
    float f = to_f32(row[c]);
    if (f > v) { // strictly: the first occurrence in this thread's stride
      v = f;
      at = int(c);
    }
  }
  best[threadIdx.x] = v;
  where[threadIdx.x] = at;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) {
      float o = best[threadIdx.x + half];
      int oi = where[threadIdx.x + half];
      if (o > best[threadIdx.x] ||
          (o == best[threadIdx.x] && oi < where[threadIdx.x])) {
        best[threadIdx.x] = o;
        where[threadIdx.x] = oi;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0)
    ids[blockIdx.x] = where[0] == 0x7fffffff ? 0 : where[0];
}

#define KUAI_PAGED_KERNELS(SUFFIX, T)                                          \
  extern "C" __global__ void __launch_bounds__(256)                            \
      kuai_argmax_##SUFFIX(const T *x, int *ids, i64 columns) {                \
    argmax_rows<T>(x, ids, columns);                                           \
  }                                                                            \
  extern "C" __global__ void kuai_kv_append_##SUFFIX(                          \
      const T *k, const T *v, T *kc, T *vc, const int *table, const int *past, \
      PagedShape shape) {                                                      \
    kv_append<T>(k, v, kc, vc, table, past, shape);                            \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(32)                             \
      kuai_paged_attention_split_##SUFFIX(                                     \
          const T *q, const T *kc, const T *vc, const int *table,              \
          const int *past, float *ws, PagedShape shape, float scale,           \
          i64 pages_per_split) {                                               \
    paged_attention_split<T>(q, kc, vc, table, past, ws, shape, scale,         \
                             pages_per_split);                                 \
  }                                                                            \
  extern "C" __global__ void kuai_paged_attention_combine_##SUFFIX(            \
      const float *ws, T *o, PagedShape shape, i64 pages_per_split) {          \
    paged_attention_combine<T>(ws, o, shape, pages_per_split);                 \
  }                                                                            \
  extern "C" __global__ void kuai_paged_attention_##SUFFIX(                    \
      const T *q, const T *kc, const T *vc, const int *table, const int *past, \
      T *o, PagedShape shape, float scale) {                                   \
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
