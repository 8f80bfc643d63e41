// The fused epilogue of the linear templates: y = act(acc + bias) +
// residual, stored as pairs of neighbouring columns.
#ifndef KUAI_EPILOGUE_CUH
#define KUAI_EPILOGUE_CUH

#include "kuai_mma.cuh"
#include "kuai_types.cuh"

/// act: 0 none, 1 GELU (erf), 2 GELU (tanh), 3 SiLU, 4 ReLU.
__device__ __forceinline__ float epilogue_act(float x, int act) {
  switch (act) {
  case 1:
    return 0.5f * x * (1.f + erff(x * 0.70710678f));
  case 2:
    return 0.5f * x *
           (1.f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
  case 3:
    return x / (1.f + __expf(-x));
  case 4:
    return fmaxf(x, 0.f);
  default:
    return x;
  }
}

__device__ __forceinline__ void store_pair(float *p, float a, float b) {
  *(float2 *)p = make_float2(a, b);
}
template <typename T>
__device__ __forceinline__ void store_pair(T *p, float a, float b) {
  *(unsigned *)p = pack2_t<T>(a, b);
}

/// Applies the epilogue to the two accumulators of row r, columns c and
/// c + 1, and stores what lies inside [M, N].
template <typename T, typename TO>
__device__ __forceinline__ void
epilogue_store_pair(float v0, float v1, const T *__restrict__ bias,
                    const TO *__restrict__ residual, TO *__restrict__ y, i64 r,
                    i64 c, i64 M, i64 N, int act) {
  if (r >= M || c >= N)
    return;
  float v[2] = {v0, v1};
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    if (c + e >= N)
      continue;
    if (bias)
      v[e] += to_f32(bias[c + e]);
    v[e] = epilogue_act(v[e], act);
    if (residual)
      v[e] += to_f32(residual[r * N + c + e]);
  }
  if ((N % 2) == 0) {
    store_pair(y + r * N + c, v[0], v[1]);
  } else {
    y[r * N + c] = from_f32<TO>(v[0]);
    if (c + 1 < N)
      y[r * N + c + 1] = from_f32<TO>(v[1]);
  }
}

/// The epilogue of four neighbouring columns c .. c + 3 of row r: one 8- or
/// 16-byte load and store when they lie inside the row and N allows it.
/// `res` points at the residual of column c (global or shared memory; the
/// next three columns follow it), or is null.
template <typename T, typename TO>
__device__ __forceinline__ void
epilogue_store4(float4 acc, const T *__restrict__ bias,
                const TO *__restrict__ res, TO *__restrict__ y, i64 r, i64 c,
                i64 N, int act) {
  float v[4] = {acc.x, acc.y, acc.z, acc.w};
  const bool vector = (N % 4) == 0 && c + 3 < N;
#pragma unroll
  for (int e = 0; e < 4; ++e) {
    if (bias && c + e < N)
      v[e] += to_f32(bias[c + e]);
    v[e] = epilogue_act(v[e], act);
  }
  const i64 at = r * N + c;
  if (vector) {
    if constexpr (sizeof(TO) == 4) {
      if (res) {
        const float4 q = *(const float4 *)res;
        v[0] += q.x, v[1] += q.y, v[2] += q.z, v[3] += q.w;
      }
      *(float4 *)(y + at) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
      if (res) {
        // 8-byte aligned: N and c are multiples of 4.
        const uint2 raw = *(const uint2 *)res;
        const unsigned words[2] = {raw.x, raw.y};
#pragma unroll
        for (int e = 0; e < 4; ++e) {
          TO q;
          q.bits = (unsigned short)(words[e / 2] >> (16 * (e % 2)));
          v[e] += to_f32(q);
        }
      }
      *(uint2 *)(y + at) =
          make_uint2(pack2_t<TO>(v[0], v[1]), pack2_t<TO>(v[2], v[3]));
    }
    return;
  }
#pragma unroll
  for (int e = 0; e < 4; ++e)
    if (c + e < N)
      y[at + e] = from_f32<TO>(v[e] + (res ? to_f32(res[e]) : 0.f));
}

#endif
