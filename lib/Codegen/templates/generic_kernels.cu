// Generic kernel templates: linear, norms, rotary, attention and MoE for
// every dtype (fp32, fp16, bf16), correct for any shape. They are the
// baseline that every model compiles with; the tuned templates (tensor-core
// GEMM, GEMV, flash attention) replace them where shapes and dtypes allow.
//
// Compiled with NVRTC inside kuai-compile (no CUDA headers needed): 16-bit
// types are plain structs converted with PTX `cvt`. Every kernel takes its
// sizes as 64-bit arguments; the runtime computes them from the bound
// symbols (batch, seq, ...) at each run.

#include "kuai_attention.cuh"
#include "kuai_norm.cuh"
#include "kuai_types.cuh"

//===-- linear: y[M, N] = x[M, K] · W + bias (+ residual) -----------------===//
// W is [K, N], or [N, K] when `w_transposed`. 64x64 tiles, 256 threads,
// 4x4 outputs per thread, fp32 accumulation.

template <typename T, typename TO>
__device__ void linear_tiled(const T *x, const T *w, const T *bias,
                             const TO *residual, TO *y, i64 M, i64 N, i64 K,
                             int w_transposed) {
  __shared__ float as[16][68];
  __shared__ float bs[16][68];
  int tid = threadIdx.x, tx = tid & 15, ty = tid >> 4;
  i64 row0 = i64(blockIdx.y) * 64, col0 = i64(blockIdx.x) * 64;
  float acc[4][4] = {};
  for (i64 k0 = 0; k0 < K; k0 += 16) {
    for (int i = tid; i < 1024; i += 256) {
      int r = i >> 4, c = i & 15; // consecutive threads walk along k
      i64 gr = row0 + r, gk = k0 + c;
      as[c][r] = (gr < M && gk < K) ? to_f32(x[gr * K + gk]) : 0.f;
      if (w_transposed) {
        i64 gn = col0 + r;
        bs[c][r] = (gn < N && gk < K) ? to_f32(w[gn * K + gk]) : 0.f;
      } else {
        int n = i & 63, kk = i >> 6; // consecutive threads walk along n
        i64 gn = col0 + n, gk2 = k0 + kk;
        bs[kk][n] = (gn < N && gk2 < K) ? to_f32(w[gk2 * N + gn]) : 0.f;
      }
    }
    __syncthreads();
#pragma unroll
    for (int kk = 0; kk < 16; ++kk) {
      float a[4], b[4];
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        a[i] = as[kk][ty + 16 * i];
        b[i] = bs[kk][tx + 16 * i];
      }
#pragma unroll
      for (int i = 0; i < 4; ++i)
#pragma unroll
        for (int j = 0; j < 4; ++j)
          acc[i][j] += a[i] * b[j];
    }
    __syncthreads();
  }
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    i64 r = row0 + ty + 16 * i;
    if (r >= M)
      continue;
#pragma unroll
    for (int j = 0; j < 4; ++j) {
      i64 c = col0 + tx + 16 * j;
      if (c >= N)
        continue;
      float v = acc[i][j];
      if (bias)
        v += to_f32(bias[c]);
      if (residual)
        v += to_f32(residual[r * N + c]);
      y[r * N + c] = from_f32<TO>(v);
    }
  }
}

//===-- rotary position embedding (positions 0..seq-1 along dim -2) -------===//

template <typename T>
__device__ void rotary_inv_freq(const T *x, T *y, const float *inv_freq,
                                i64 total, i64 seq, i64 d, i64 rotary_dim,
                                int interleaved, const int *offset,
                                i64 batch_rows) {
  i64 idx = i64(blockIdx.x) * blockDim.x + threadIdx.x;
  if (idx >= total)
    return;
  i64 j = idx % d, row = idx / d;
  if (j >= rotary_dim) {
    y[idx] = x[idx];
    return;
  }
  // With `offset` (a KV cache), batch b's positions start at offset[b];
  // batch_rows rows of d elements make up one batch index.
  i64 half = rotary_dim / 2,
      pos = row % seq + (offset ? offset[row / batch_rows] : 0);
  i64 partner = interleaved ? (j ^ 1) : (j < half ? j + half : j - half);
  float sign = interleaved ? ((j & 1) ? 1.f : -1.f) : (j < half ? -1.f : 1.f);
  float angle = float(pos) * inv_freq[interleaved ? j / 2 : j % half];
  float s, c;
  sincosf(angle, &s, &c);
  float v = to_f32(x[idx]) * c + sign * to_f32(x[row * d + partner]) * s;
  y[idx] = from_f32<T>(v);
}

//===-- attention: one warp per query row, online softmax -----------------===//
// q [B, Hq, Sq, D], k [B, Hkv, Skv, D], v [B, Hkv, Skv, Dv], o like q with
// Dv; each given by its (batch, head, position) strides, the last dim
// contiguous. D and Dv at most 256.

template <typename T>
__device__ void attention_rows(const T *q, const T *k, const T *v,
                               const void *mask, T *o, const AttnShape &s,
                               float scale) {
  int lane = threadIdx.x & 31;
  i64 row = i64(blockIdx.x) * (blockDim.x >> 5) + (threadIdx.x >> 5);
  if (row >= s.batch * s.q_heads * s.q_len)
    return;
  i64 i = row % s.q_len, h = (row / s.q_len) % s.q_heads,
      b = row / (s.q_len * s.q_heads);
  i64 hk = h / (s.q_heads / s.kv_heads), shift = s.kv_len - s.q_len;
  const T *qr = q + b * s.q_stride[0] + h * s.q_stride[1] + i * s.q_stride[2];
  const T *kb = k + b * s.k_stride[0] + hk * s.k_stride[1];
  const T *vb = v + b * s.v_stride[0] + hk * s.v_stride[1];
  float qv[8], acc[8];
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    i64 c = lane + 32 * t;
    qv[t] = c < s.d ? to_f32(qr[c]) * scale : 0.f;
    acc[t] = 0.f;
  }
  bool causal = s.mask_kind == MASK_CAUSAL || s.mask_kind == MASK_SLIDING ||
                s.mask_kind == MASK_CAUSAL_PADDING;
  bool padding =
      s.mask_kind == MASK_PADDING || s.mask_kind == MASK_CAUSAL_PADDING;
  i64 end = causal ? min(s.kv_len, i + shift + 1) : s.kv_len;
  i64 begin = 0;
  if (s.mask_kind == MASK_SLIDING && s.window > 0)
    begin = max(i64(0), i + shift - s.window + 1);
  float m = -3.0e38f, l = 0.f;
  for (i64 j = begin; j < end; ++j) {
    if (padding && mask_value(mask, s.mask_type, b * s.kv_len + j) == 0.f)
      continue;
    const T *kr = kb + j * s.k_stride[2];
    float dot = 0.f;
#pragma unroll
    for (int t = 0; t < 8; ++t) {
      i64 c = lane + 32 * t;
      if (c < s.d)
        dot += qv[t] * to_f32(kr[c]);
    }
    float score = warp_sum(dot);
    if (s.mask_kind == MASK_BIAS)
      score += mask_value(mask, s.mask_type,
                          b * s.mask_stride[0] + h * s.mask_stride[1] +
                              i * s.mask_stride[2] + j * s.mask_stride[3]);
    if (score < -3.0e38f) // a -inf bias masks the key
      continue;
    float m_new = fmaxf(m, score);
    float correction = __expf(m - m_new), p = __expf(score - m_new);
    l = l * correction + p;
    const T *vr = vb + j * s.v_stride[2];
#pragma unroll
    for (int t = 0; t < 8; ++t) {
      i64 c = lane + 32 * t;
      acc[t] = acc[t] * correction + (c < s.dv ? p * to_f32(vr[c]) : 0.f);
    }
    m = m_new;
  }
  T *orow = o + b * s.o_stride[0] + h * s.o_stride[1] + i * s.o_stride[2];
  float inv = l > 0.f ? 1.f / l : 0.f; // every key masked: zeros
#pragma unroll
  for (int t = 0; t < 8; ++t) {
    i64 c = lane + 32 * t;
    if (c < s.dv)
      orow[c] = from_f32<T>(acc[t] * inv);
  }
}

//===-- attention, tiled: 8 query rows per block, 32-key tiles
//-------------===//
// Same contract as attention_rows for head dims up to 128. The block's
// warps share each tile of 32 keys and values staged in shared memory (as
// fp32); within a warp, lane l scores key l of the tile (no reduction per
// key), the softmax statistics are reduced once per tile, and lane l owns
// output features l, l+32, l+64, l+96.

#define ATT_ROWS 8
#define ATT_TILE 32
#define ATT_DMAX 128

template <typename T>
__device__ void attention_tiled(const T *q, const T *k, const T *v,
                                const void *mask, T *o, const AttnShape &s,
                                float scale) {
  __shared__ float ks[ATT_TILE][ATT_DMAX + 1];
  __shared__ float vs[ATT_TILE][ATT_DMAX];
  __shared__ float qs[ATT_ROWS][ATT_DMAX];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  // grid: x over query rows (ATT_ROWS each), y over batch x heads.
  const i64 bh = blockIdx.y;
  const i64 i0 = i64(blockIdx.x) * ATT_ROWS;
  const i64 h = bh % s.q_heads, b = bh / s.q_heads;
  const i64 hk = h / (s.q_heads / s.kv_heads), shift = s.kv_len - s.q_len;
  const i64 i = i0 + warp;
  const bool row = i < s.q_len;
  const bool causal = s.mask_kind == MASK_CAUSAL ||
                      s.mask_kind == MASK_SLIDING ||
                      s.mask_kind == MASK_CAUSAL_PADDING;
  const bool padding =
      s.mask_kind == MASK_PADDING || s.mask_kind == MASK_CAUSAL_PADDING;
  const T *kb = k + b * s.k_stride[0] + hk * s.k_stride[1];
  const T *vb = v + b * s.v_stride[0] + hk * s.v_stride[1];
  if (row) {
    const T *qr = q + b * s.q_stride[0] + h * s.q_stride[1] + i * s.q_stride[2];
    for (i64 c = lane; c < s.d; c += 32)
      qs[warp][c] = to_f32(qr[c]) * scale;
  }
  // Keys any row of the block sees.
  i64 lastRow = min(i0 + ATT_ROWS, s.q_len) - 1;
  i64 end = causal ? min(s.kv_len, lastRow + shift + 1) : s.kv_len;
  i64 begin = 0;
  if (s.mask_kind == MASK_SLIDING && s.window > 0)
    begin = max(i64(0), i0 + shift - s.window + 1);
  float m = -3.0e38f, l = 0.f, acc[4] = {0.f, 0.f, 0.f, 0.f};
  for (i64 j0 = begin; j0 < end; j0 += ATT_TILE) {
    __syncthreads(); // the previous tile is consumed
    for (int e = threadIdx.x; e < ATT_TILE * ATT_DMAX; e += blockDim.x) {
      int kk = e / ATT_DMAX, c = e % ATT_DMAX;
      i64 j = j0 + kk;
      bool in = j < end;
      ks[kk][c] = in && c < s.d ? to_f32(kb[j * s.k_stride[2] + c]) : 0.f;
      vs[kk][c] = in && c < s.dv ? to_f32(vb[j * s.v_stride[2] + c]) : 0.f;
    }
    __syncthreads();
    if (!row)
      continue;
    i64 j = j0 + lane;
    bool visible = j < end;
    if (causal)
      visible = visible && j <= i + shift &&
                (s.mask_kind != MASK_SLIDING || s.window <= 0 ||
                 i + shift - j < s.window);
    if (visible && padding)
      visible = mask_value(mask, s.mask_type, b * s.kv_len + j) != 0.f;
    float score = -3.0e38f;
    if (visible) {
      float dot = 0.f;
      for (int c = 0; c < s.d; ++c)
        dot += qs[warp][c] * ks[lane][c];
      score = dot;
      if (s.mask_kind == MASK_BIAS)
        score += mask_value(mask, s.mask_type,
                            b * s.mask_stride[0] + h * s.mask_stride[1] +
                                i * s.mask_stride[2] + j * s.mask_stride[3]);
      if (score < -3.0e38f)
        visible = false;
    }
    float tileMax = visible ? score : -3.0e38f;
    for (int off = 16; off > 0; off >>= 1)
      tileMax = fmaxf(tileMax, __shfl_xor_sync(0xffffffffu, tileMax, off));
    if (tileMax <= -3.0e38f)
      continue; // nothing visible in this tile for this row
    float mNew = fmaxf(m, tileMax);
    float p = visible ? __expf(score - mNew) : 0.f;
    float correction = __expf(m - mNew);
    l = l * correction + warp_sum(p);
#pragma unroll
    for (int t = 0; t < 4; ++t)
      acc[t] *= correction;
    for (int kk = 0; kk < ATT_TILE; ++kk) {
      float pk = __shfl_sync(0xffffffffu, p, kk);
#pragma unroll
      for (int t = 0; t < 4; ++t)
        acc[t] += pk * vs[kk][lane + 32 * t];
    }
    m = mNew;
  }
  if (!row)
    return;
  T *orow = o + b * s.o_stride[0] + h * s.o_stride[1] + i * s.o_stride[2];
  float inv = l > 0.f ? 1.f / l : 0.f; // every key masked: zeros
#pragma unroll
  for (int t = 0; t < 4; ++t) {
    int c = lane + 32 * t;
    if (c < s.dv)
      orow[c] = from_f32<T>(acc[t] * inv);
  }
}

//===-- mixture of experts: one block per token ---------------------------===//
// Router [E, D] (or [D, E] unless router_transposed); expert weights packed
// per kind: gate and up [E][F][D], down [E][D][F] when experts_transposed,
// else gate/up [E][D][F] and down [E][F][D]. Dynamic shared memory holds
// the token (D), the output (D), the hidden row (F) and the logits (E).

__device__ __forceinline__ float activate(float x, int act) {
  if (act == 0)
    return x / (1.f + __expf(-x));
  if (act == 1)
    return 0.5f * x * (1.f + erff(x * 0.70710678f));
  return 0.5f * x * (1.f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}

template <typename T>
__device__ void moe_token(const T *x, const T *router, const T *gate,
                          const T *up, const T *down, T *y, i64 d, i64 f,
                          i64 experts, i64 top_k, int normalize, int act,
                          int router_transposed, int experts_transposed) {
  extern __shared__ float smem[];
  float *xs = smem, *ys = smem + d, *hs = ys + d, *logits = hs + f;
  __shared__ int chosen[16];
  __shared__ float weights[16];
  int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  const T *row = x + i64(blockIdx.x) * d;
  for (i64 i = threadIdx.x; i < d; i += blockDim.x) {
    xs[i] = to_f32(row[i]);
    ys[i] = 0.f;
  }
  __syncthreads();
  for (i64 e = warp; e < experts; e += warps) {
    float s = 0;
    for (i64 i = lane; i < d; i += 32)
      s += xs[i] * to_f32(router_transposed ? router[e * d + i]
                                            : router[i * experts + e]);
    s = warp_sum(s);
    if (lane == 0)
      logits[e] = s;
  }
  __syncthreads();
  if (threadIdx.x == 0) {
    float mx = logits[0];
    for (i64 e = 1; e < experts; ++e)
      mx = fmaxf(mx, logits[e]);
    float sum = 0;
    for (i64 e = 0; e < experts; ++e)
      sum += logits[e] = expf(logits[e] - mx);
    float picked = 0;
    for (i64 t = 0; t < top_k; ++t) { // ties keep the lower expert first
      int best = -1;
      for (i64 e = 0; e < experts; ++e) {
        bool taken = false;
        for (i64 u = 0; u < t; ++u)
          taken |= chosen[u] == e;
        if (!taken && (best < 0 || logits[e] > logits[best]))
          best = int(e);
      }
      chosen[t] = best;
      weights[t] = logits[best] / sum;
      picked += weights[t];
    }
    if (normalize)
      for (i64 t = 0; t < top_k; ++t)
        weights[t] /= picked;
  }
  __syncthreads();
  for (i64 t = 0; t < top_k; ++t) {
    i64 e = chosen[t];
    const T *g = gate + e * d * f, *u = up + e * d * f, *dn = down + e * d * f;
    for (i64 j = warp; j < f; j += warps) {
      float sg = 0, su = 0;
      for (i64 i = lane; i < d; i += 32) {
        i64 at = experts_transposed ? j * d + i : i * f + j;
        sg += xs[i] * to_f32(g[at]);
        su += xs[i] * to_f32(u[at]);
      }
      sg = warp_sum(sg);
      su = warp_sum(su);
      if (lane == 0)
        hs[j] = activate(sg, act) * su;
    }
    __syncthreads();
    for (i64 c = warp; c < d; c += warps) {
      float s = 0;
      for (i64 j = lane; j < f; j += 32)
        s += hs[j] * to_f32(dn[experts_transposed ? c * f + j : j * d + c]);
      s = warp_sum(s);
      if (lane == 0)
        ys[c] += weights[t] * s;
    }
    __syncthreads();
  }
  T *out = y + i64(blockIdx.x) * d;
  for (i64 i = threadIdx.x; i < d; i += blockDim.x)
    out[i] = from_f32<T>(ys[i]);
}

//===-- entry points, one per dtype ---------------------------------------===//

#define KUAI_GENERIC_KERNELS(SUFFIX, T)                                        \
  extern "C" __global__ void __launch_bounds__(256) kuai_linear_##SUFFIX(      \
      const T *x, const T *w, const T *bias, const T *residual, T *y, i64 M,   \
      i64 N, i64 K, int w_transposed) {                                        \
    kuai_grid_dependency_sync();                                               \
    linear_tiled<T, T>(x, w, bias, residual, y, M, N, K, w_transposed);        \
  }                                                                            \
  /* fp32 result from 16-bit operands: logits of a model compiled to fp16 */   \
  extern "C" __global__ void __launch_bounds__(256)                            \
      kuai_linear_##SUFFIX##_out_f32(const T *x, const T *w, const T *bias,    \
                                     const float *residual, float *y, i64 M,   \
                                     i64 N, i64 K, int w_transposed) {         \
    kuai_grid_dependency_sync();                                               \
    linear_tiled<T, float>(x, w, bias, residual, y, M, N, K, w_transposed);    \
  }                                                                            \
  extern "C" __global__ void kuai_norm_##SUFFIX(                               \
      const T *x, const T *weight, const T *bias, T *y, i64 inner, float eps,  \
      int rms) {                                                               \
    kuai_grid_dependency_sync();                                               \
    norm_rows<T, T>(x, weight, bias, y, inner, eps, rms);                      \
  }                                                                            \
  extern "C" __global__ void kuai_norm_warp_##SUFFIX(                          \
      const T *x, const T *weight, const T *bias, T *y, i64 rows, i64 inner,   \
      float eps, int rms) {                                                    \
    kuai_grid_dependency_sync();                                               \
    norm_rows_warp<T, T>(x, weight, bias, y, rows, inner, eps, rms);           \
  }                                                                            \
  /* 16-bit rows in 64 registers: 32 warps an SM (fp32 would spill) */         \
  extern "C" __global__ void __launch_bounds__(256, sizeof(T) == 2 ? 4 : 2)    \
      kuai_norm_vec_##SUFFIX(const T *x, const T *weight, const T *bias, T *y, \
                             i64 rows, i64 inner, float eps, int rms) {        \
    kuai_grid_dependency_sync();                                               \
    norm_rows_vec<T, T>(x, weight, bias, y, rows, inner, eps, rms);            \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(256, sizeof(T) == 2 ? 3 : 2)    \
      kuai_norm_vec_##SUFFIX##_in_f32(const float *x, const T *weight,         \
                                      const T *bias, T *y, i64 rows,           \
                                      i64 inner, float eps, int rms) {         \
    kuai_grid_dependency_sync();                                               \
    norm_rows_vec<float, T>(x, weight, bias, y, rows, inner, eps, rms);        \
  }                                                                            \
  extern "C" __global__ void kuai_norm_warp_##SUFFIX##_in_f32(                 \
      const float *x, const T *weight, const T *bias, T *y, i64 rows,          \
      i64 inner, float eps, int rms) {                                         \
    kuai_grid_dependency_sync();                                               \
    norm_rows_warp<float, T>(x, weight, bias, y, rows, inner, eps, rms);       \
  }                                                                            \
  /* fp32 input (the residual stream of a model compiled to 16 bits) */        \
  extern "C" __global__ void kuai_norm_##SUFFIX##_in_f32(                      \
      const float *x, const T *weight, const T *bias, T *y, i64 inner,         \
      float eps, int rms) {                                                    \
    kuai_grid_dependency_sync();                                               \
    norm_rows<float, T>(x, weight, bias, y, inner, eps, rms);                  \
  }                                                                            \
  extern "C" __global__ void kuai_rotary_##SUFFIX(                             \
      const T *x, T *y, const float *inv_freq, i64 total, i64 seq, i64 d,      \
      i64 rotary_dim, int interleaved, const int *offset, i64 batch_rows) {    \
    kuai_grid_dependency_sync();                                               \
    rotary_inv_freq<T>(x, y, inv_freq, total, seq, d, rotary_dim, interleaved, \
                       offset, batch_rows);                                    \
  }                                                                            \
  extern "C" __global__ void kuai_attention_##SUFFIX(                          \
      const T *q, const T *k, const T *v, const void *mask, T *o,              \
      AttnShape shape, float scale) {                                          \
    kuai_grid_dependency_sync();                                               \
    attention_rows<T>(q, k, v, mask, o, shape, scale);                         \
  }                                                                            \
  extern "C" __global__ void __launch_bounds__(256)                            \
      kuai_attention_tiled_##SUFFIX(const T *q, const T *k, const T *v,        \
                                    const void *mask, T *o, AttnShape shape,   \
                                    float scale) {                             \
    kuai_grid_dependency_sync();                                               \
    attention_tiled<T>(q, k, v, mask, o, shape, scale);                        \
  }                                                                            \
  extern "C" __global__ void kuai_moe_##SUFFIX(                                \
      const T *x, const T *router, const T *gate, const T *up, const T *down,  \
      T *y, i64 d, i64 f, i64 experts, i64 top_k, int normalize, int act,      \
      int router_transposed, int experts_transposed) {                         \
    kuai_grid_dependency_sync();                                               \
    moe_token<T>(x, router, gate, up, down, y, d, f, experts, top_k,           \
                 normalize, act, router_transposed, experts_transposed);       \
  }

#ifdef KUAI_WITH_F32
KUAI_GENERIC_KERNELS(f32, float)
#endif
#ifdef KUAI_WITH_F16
KUAI_GENERIC_KERNELS(f16, kuai_f16)
#endif
#ifdef KUAI_WITH_BF16
KUAI_GENERIC_KERNELS(bf16, kuai_bf16)
#endif
