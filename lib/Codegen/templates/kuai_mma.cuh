// PTX helpers shared by the mma.sync kernel templates (sm_80+): async
// copies, ldmatrix, the m16n8k16 fp16/bf16 MMA, streaming loads and 16-bit
// packing. Templates include it; NVRTC and nvcc get this folder as an
// include path. Under KUAI_EMULATED_PTX (test/unit/CudaEmulation.h runs
// templates on the CPU) the bf16 MMA, bf16 packing and the streaming load
// call that header's emulations instead of PTX.
#ifndef KUAI_MMA_CUH
#define KUAI_MMA_CUH

typedef unsigned short half_t;

__device__ __forceinline__ unsigned smem_addr(const void *p) {
  return (unsigned)__cvta_generic_to_shared(p);
}

/// 16 bytes global -> shared; `valid == false` writes zeros instead.
__device__ __forceinline__ void cp_async16(void *dst, const void *src,
                                           bool valid = true) {
  unsigned bytes = valid ? 16 : 0;
  asm volatile(
      "cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)),
      "l"(src), "r"(bytes));
}

__device__ __forceinline__ void ldmatrix_x4(unsigned *r, const void *p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned *r, const void *p) {
  asm volatile(
      "ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
      : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
      : "r"(smem_addr(p)));
}

/// c += a · b on a 16x8x16 fp16 tile, fp32 accumulators.
__device__ __forceinline__ void mma_16816(float *c, const unsigned *a,
                                          const unsigned *b) {
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
}

__device__ __forceinline__ unsigned pack_half2(float lo, float hi) {
  unsigned short l, h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(l) : "f"(lo));
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(hi));
  return (unsigned)l | ((unsigned)h << 16);
}

/// c += a · b on a 16x8x16 bf16 tile, fp32 accumulators.
__device__ __forceinline__ void mma_16816_bf16(float *c, const unsigned *a,
                                               const unsigned *b) {
#ifdef KUAI_EMULATED_PTX
  cuda_emulation::mmaBf16(c, a, b);
#else
  asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 "
               "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
               : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
               : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]),
                 "r"(b[1]));
#endif
}

__device__ __forceinline__ unsigned pack_bf16x2(float lo, float hi) {
#ifdef KUAI_EMULATED_PTX
  return cuda_emulation::roundBf16(lo) | cuda_emulation::roundBf16(hi) << 16;
#else
  unsigned r;
  asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
  return r;
#endif
}

/// 16 bytes of a stream read once (the weights of the tensor-core GEMVs):
/// not kept in L1, which is left to what every block rereads (x).
__device__ __forceinline__ uint4 load_stream16(const uint4 *p) {
#ifdef KUAI_EMULATED_PTX
  return *p;
#else
  uint4 v;
  asm("ld.global.nc.L1::no_allocate.v4.u32 {%0,%1,%2,%3}, [%4];\n"
      : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
      : "l"(p));
  return v;
#endif
}

/// The MMA and the packing of a 16-bit element type T (T::is_bf16 picks).
template <typename T>
__device__ __forceinline__ void mma_16816_t(float *c, const unsigned *a,
                                            const unsigned *b) {
  if (T::is_bf16)
    mma_16816_bf16(c, a, b);
  else
    mma_16816(c, a, b);
}
template <typename T>
__device__ __forceinline__ unsigned pack2_t(float lo, float hi) {
  return T::is_bf16 ? pack_bf16x2(lo, hi) : pack_half2(lo, hi);
}

#endif
