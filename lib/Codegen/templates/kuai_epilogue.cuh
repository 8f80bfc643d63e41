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

/// The residual of four neighbouring columns c .. c + 3 of row r (zeros
/// without one, or past N): one 8- or 16-byte load when they lie inside the
/// row and N allows it.
template <typename TO>
__device__ __forceinline__ float4 residual4(const TO *__restrict__ residual,
                                            i64 r, i64 c, i64 N) {
  float v[4] = {0.f, 0.f, 0.f, 0.f};
  if (residual) {
    const TO *q = residual + r * N + c;
    if ((N % 4) == 0 && c + 3 < N) {
      if constexpr (sizeof(TO) == 4) {
        return *(const float4 *)q;
      } else {
        const uint2 raw = *(const uint2 *)q;
        const unsigned words[2] = {raw.x, raw.y};
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          TO e;
          e.bits = (unsigned short)(words[i / 2] >> (16 * (i % 2)));
          v[i] = to_f32(e);
        }
      }
    } else {
#pragma unroll
      for (int i = 0; i < 4; ++i)
        if (c + i < N)
          v[i] = to_f32(q[i]);
    }
  }
  return make_float4(v[0], v[1], v[2], v[3]);
}

/// The bias of columns c .. c + 3 (zeros without one, or past N).
template <typename T>
__device__ __forceinline__ float4 bias4(const T *__restrict__ bias, i64 c,
                                        i64 N) {
  float v[4] = {0.f, 0.f, 0.f, 0.f};
  if (bias)
#pragma unroll
    for (int i = 0; i < 4; ++i)
      if (c + i < N)
        v[i] = to_f32(bias[c + i]);
  return make_float4(v[0], v[1], v[2], v[3]);
}

/// y[r, c .. c + 3] = act(acc + b) + res, with b and res loaded before
/// (bias4, residual4): one 8- or 16-byte store when the columns lie inside
/// the row and N allows it.
template <typename TO>
__device__ __forceinline__ void epilogue_finish4(float4 acc, float4 b,
                                                 float4 res, TO *__restrict__ y,
                                                 i64 r, i64 c, i64 N, int act) {
  float v[4] = {epilogue_act(acc.x + b.x, act) + res.x,
                epilogue_act(acc.y + b.y, act) + res.y,
                epilogue_act(acc.z + b.z, act) + res.z,
                epilogue_act(acc.w + b.w, act) + res.w};
  const i64 at = r * N + c;
  if ((N % 4) == 0 && c + 3 < N) {
    if constexpr (sizeof(TO) == 4)
      *(float4 *)(y + at) = make_float4(v[0], v[1], v[2], v[3]);
    else
      *(uint2 *)(y + at) =
          make_uint2(pack2_t<TO>(v[0], v[1]), pack2_t<TO>(v[2], v[3]));
    return;
  }
#pragma unroll
  for (int e = 0; e < 4; ++e)
    if (c + e < N)
      y[at + e] = from_f32<TO>(v[e]);
}

/// The epilogue of four neighbouring columns c .. c + 3 of row r.
template <typename T, typename TO>
__device__ __forceinline__ void
epilogue_store4(float4 acc, const T *__restrict__ bias,
                const TO *__restrict__ residual, TO *__restrict__ y, i64 r,
                i64 c, i64 N, int act) {
  epilogue_finish4<TO>(acc, bias4<T>(bias, c, N),
                       residual4<TO>(residual, r, c, N), y, r, c, N, act);
}

#endif
