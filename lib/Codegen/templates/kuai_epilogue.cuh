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

/// Four neighbouring elements c .. c + 3 of row `row` of a [*, N] tensor
/// (a bias is its only row) as floats. The indices are clamped rather than
/// guarded, so the load has no branch of its own: a thread issues those of
/// several groups before it waits for any (the caller stores only what
/// lies inside the row). One 8- or 16-byte load when N is a multiple of 4.
template <typename E>
__device__ __forceinline__ float4 epilogue_load4(const E *__restrict__ p,
                                                 i64 row, i64 c, i64 N) {
  const E *q = p + row * N;
  if ((N % 4) == 0) {
    const i64 at = min(c, N - 4);
    if constexpr (sizeof(E) == 4)
      return *(const float4 *)(q + at);
    uint2 w = *(const uint2 *)(q + at);
    E e[4];
    *(uint2 *)e = w;
    return make_float4(to_f32(e[0]), to_f32(e[1]), to_f32(e[2]), to_f32(e[3]));
  }
  return make_float4(to_f32(q[min(c, N - 1)]), to_f32(q[min(c + 1, N - 1)]),
                     to_f32(q[min(c + 2, N - 1)]),
                     to_f32(q[min(c + 3, N - 1)]));
}

/// The epilogue of four neighbouring columns c .. c + 3 of row r, given
/// their bias and residual (zeros when absent): one 8- or 16-byte store
/// when they lie inside the row and N allows it.
template <typename TO>
__device__ __forceinline__ void
epilogue_store4(float4 acc, float4 bias, float4 residual, TO *__restrict__ y,
                i64 r, i64 c, i64 N, int act) {
  float v[4] = {epilogue_act(acc.x + bias.x, act) + residual.x,
                epilogue_act(acc.y + bias.y, act) + residual.y,
                epilogue_act(acc.z + bias.z, act) + residual.z,
                epilogue_act(acc.w + bias.w, act) + residual.w};
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

#endif
