// Skinny GEMM / GEMV template for decode (few rows), fp16 in, fp32
// accumulate, fp16 out:
//   C[M, N] = A[M, K] · W[N, K]ᵀ   with M = ROWS small (1..16).
// Bound by reading W once: each warp streams one row of W with 16-byte
// loads (UNROLL loads in flight per lane), multiplies it with the ROWS
// activation rows, and reduces across the warp. K must be a multiple of
// 256 (32 lanes x 8 halves); N a multiple of WARPS.

#ifndef ROWS
#define ROWS 1
#endif
#define WARPS 8
#ifndef UNROLL
#define UNROLL 4
#endif

typedef unsigned short half_t;

__device__ __forceinline__ float2 half2_to_float2(unsigned v) {
  unsigned short lo = v & 0xffff, hi = v >> 16;
  float a, b;
  asm("cvt.f32.f16 %0, %1;" : "=f"(a) : "h"(lo));
  asm("cvt.f32.f16 %0, %1;" : "=f"(b) : "h"(hi));
  return make_float2(a, b);
}

__device__ __forceinline__ half_t float_to_half(float f) {
  unsigned short h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
  return h;
}

extern "C" __global__ void __launch_bounds__(WARPS * 32)
    kuai_gemv_tn_f16(const half_t *__restrict__ A, const half_t *__restrict__ W,
                     half_t *__restrict__ C, int N, int K) {
  const int lane = threadIdx.x % 32;
  const int n = blockIdx.x * WARPS + threadIdx.x / 32;
  const uint4 *w = reinterpret_cast<const uint4 *>(W + (size_t)n * K);
  const int chunks = K / 8; // 16-byte chunks per row
  float acc[ROWS];
#pragma unroll
  for (int r = 0; r < ROWS; ++r)
    acc[r] = 0.f;
  for (int c0 = lane; c0 < chunks; c0 += 32 * UNROLL) {
    uint4 wv[UNROLL];
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      int c = c0 + u * 32;
      wv[u] = c < chunks ? __ldg(w + c) : make_uint4(0, 0, 0, 0);
    }
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      int c = c0 + u * 32;
      if (c >= chunks)
        break;
      float2 w0 = half2_to_float2(wv[u].x), w1 = half2_to_float2(wv[u].y),
             w2 = half2_to_float2(wv[u].z), w3 = half2_to_float2(wv[u].w);
#pragma unroll
      for (int r = 0; r < ROWS; ++r) {
        uint4 av = __ldg(reinterpret_cast<const uint4 *>(A + (size_t)r * K) + c);
        float2 a0 = half2_to_float2(av.x), a1 = half2_to_float2(av.y),
               a2 = half2_to_float2(av.z), a3 = half2_to_float2(av.w);
        acc[r] += w0.x * a0.x + w0.y * a0.y + w1.x * a1.x + w1.y * a1.y +
                  w2.x * a2.x + w2.y * a2.y + w3.x * a3.x + w3.y * a3.y;
      }
    }
  }
#pragma unroll
  for (int r = 0; r < ROWS; ++r) {
    float v = acc[r];
#pragma unroll
    for (int o = 16; o > 0; o /= 2)
      v += __shfl_xor_sync(0xffffffffu, v, o);
    if (lane == r % 32)
      C[(size_t)r * N + n] = float_to_half(v);
  }
}
