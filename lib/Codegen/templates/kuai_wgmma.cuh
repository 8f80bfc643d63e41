// Hopper (sm_90a) building blocks of the wgmma templates: mbarriers, the
// tensor memory accelerator (TMA) copy of a 2-D box, shared-memory matrix
// descriptors and the wgmma m64nNk16 instructions with fp32 accumulators.
// Templates include it; NVRTC and nvcc get this folder as an include path.
// The PTX needs a `compute_90a` target.
#ifndef KUAI_WGMMA_CUH
#define KUAI_WGMMA_CUH

#include "kuai_mma.cuh"

/// The driver's CUtensorMap (cuTensorMapEncodeTiled), opaque here: the
/// runtime encodes it and passes it as a __grid_constant__ parameter.
struct __align__(64) kuai_tensor_map {
  unsigned long long opaque[16];
};

__device__ __forceinline__ void mbar_init(unsigned bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar),
               "r"(count));
}
/// Arrives and expects `bytes` of asynchronous copies before the phase ends.
__device__ __forceinline__ void mbar_arrive_expect_tx(unsigned bar,
                                                      unsigned bytes) {
  asm volatile(
      "mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar),
      "r"(bytes)
      : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar)
               : "memory");
}
/// Blocks until the phase of parity `parity` has completed.
__device__ __forceinline__ void mbar_wait(unsigned bar, unsigned parity) {
  unsigned done = 0;
  while (!done)
    asm volatile("{\n.reg .pred p;\n"
                 "mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n"
                 "selp.u32 %0, 1, 0, p;\n}\n"
                 : "=r"(done)
                 : "r"(bar), "r"(parity)
                 : "memory");
}

/// Copies the box at (c0 = column, c1 = row) of `map` into shared memory at
/// `dst`; completion is counted in bytes on the mbarrier `bar`.
__device__ __forceinline__ void tma_load_2d(unsigned dst,
                                            const kuai_tensor_map *map,
                                            unsigned bar, int c0, int c1) {
  asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::"
               "complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n" ::"r"(dst),
               "l"((unsigned long long)map), "r"(bar), "r"(c0), "r"(c1)
               : "memory");
}

/// Descriptor of a K-major tile with 128-byte rows in the 128-byte swizzle
/// that TMA writes: leading byte offset 16, stride byte offset 1024 (8 rows).
__device__ __forceinline__ unsigned long long wgmma_desc(unsigned addr) {
  return ((unsigned long long)((addr & 0x3FFFF) >> 4)) |
         ((unsigned long long)(16 >> 4) << 16) |
         ((unsigned long long)(1024 >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N> __device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}

/// d[N/2] += A(64x16, smem) · B(Nx16, smem)ᵀ; the fragment of thread t of
/// warp w holds rows 16w + t/4 (+8) and columns 8j + 2(t%4) + {0, 1}.
template <int N, bool BF16>
__device__ __forceinline__ void wgmma_m64k16(float *d, unsigned long long a,
                                             unsigned long long b);
// The instruction takes its N/2 accumulators as separate operands: the
// register lists below are spelled out in 16-register chunks, and the
// operand lists built from 8-register groups.
#define KUAI_R0 "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15"
#define KUAI_R1                                                                \
  "%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31"
#define KUAI_R2                                                                \
  "%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47"
#define KUAI_R3                                                                \
  "%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"
#define KUAI_R4                                                                \
  "%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79"
#define KUAI_R5                                                                \
  "%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95"
#define KUAI_R6                                                                \
  "%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%"   \
  "111"
#define KUAI_R7                                                                \
  "%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%"    \
  "126,%127"
#define KUAI_ACC8(d, i)                                                        \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]),  \
      "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
#define KUAI_ACC32(d, i)                                                       \
  KUAI_ACC8(d, i), KUAI_ACC8(d, i + 8), KUAI_ACC8(d, i + 16),                  \
      KUAI_ACC8(d, i + 24)
#define KUAI_REGS32 KUAI_R0 "," KUAI_R1
#define KUAI_REGS64 KUAI_REGS32 "," KUAI_R2 "," KUAI_R3
#define KUAI_REGS96 KUAI_REGS64 "," KUAI_R4 "," KUAI_R5
#define KUAI_REGS128 KUAI_REGS96 "," KUAI_R6 "," KUAI_R7
#define KUAI_ACCS32(d) KUAI_ACC32(d, 0)
#define KUAI_ACCS64(d) KUAI_ACCS32(d), KUAI_ACC32(d, 32)
#define KUAI_ACCS96(d) KUAI_ACCS64(d), KUAI_ACC32(d, 64)
#define KUAI_ACCS128(d) KUAI_ACCS96(d), KUAI_ACC32(d, 96)

/// One specialization per (N, element type): scale-d 1, A and B K-major.
#define KUAI_WGMMA(N, REGS, TYPE, IS_BF16, DESCS)                              \
  template <>                                                                  \
  __device__ __forceinline__ void wgmma_m64k16<N, IS_BF16>(                    \
      float *d, unsigned long long a, unsigned long long b) {                  \
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"                    \
                 "wgmma.mma_async.sync.aligned.m64n" #N "k16.f32." TYPE        \
                 "." TYPE " {" KUAI_REGS##REGS "}, " DESCS                     \
                                               ", p, 1, 1, 0, 0;\n}\n"         \
                 : KUAI_ACCS##REGS(d)                                          \
                 : "l"(a), "l"(b));                                            \
  }
KUAI_WGMMA(64, 32, "f16", false, "%32, %33")
KUAI_WGMMA(64, 32, "bf16", true, "%32, %33")
KUAI_WGMMA(128, 64, "f16", false, "%64, %65")
KUAI_WGMMA(128, 64, "bf16", true, "%64, %65")
KUAI_WGMMA(192, 96, "f16", false, "%96, %97")
KUAI_WGMMA(192, 96, "bf16", true, "%96, %97")
KUAI_WGMMA(256, 128, "f16", false, "%128, %129")
KUAI_WGMMA(256, 128, "bf16", true, "%128, %129")

#endif
