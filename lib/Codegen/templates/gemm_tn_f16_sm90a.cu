// Hopper GEMM template (sm_90a): fp16 in, fp32 accumulate, fp16 out,
//   C[M, N] = A[M, K] · W[N, K]ᵀ   (W in PyTorch's [out, in] layout).
// Two warpgroups per block, each issuing wgmma m64nBNk16 from shared
// memory; tiles are loaded with cp.async into the 128-byte swizzled layout
// that wgmma descriptors describe, STAGES deep, with one wgmma group kept in
// flight. M is arbitrary (rows beyond
// it are zero-filled); N must be a multiple of BN and K of 64.
// Compile for sm_90a (NVRTC: -arch=sm_90a; nvcc:
// -gencode=arch=compute_90a,code=sm_90a).

#define BM 128
#ifndef BN
#define BN 128 // 128 or 256
#endif
#define BK 64
#ifndef STAGES
#define STAGES 5
#endif
// Tiles loaded ahead: two stages stay with the wgmma in flight and the one
// being issued.
#define AHEAD (STAGES - 2)
#define THREADS 256

typedef unsigned short half_t;
typedef unsigned long long uint64_t;

__device__ __forceinline__ unsigned smem_addr(const void *p) {
  return (unsigned)__cvta_generic_to_shared(p);
}

__device__ __forceinline__ void cp_async16(unsigned dst, const void *src,
                                           bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(dst),
               "l"(src), "r"(valid ? 16u : 0u));
}

// K-major tile with 128-byte rows, 128-byte swizzle: leading byte offset 16,
// stride byte offset 1024 (8 rows).
__device__ __forceinline__ uint64_t smem_desc(unsigned addr) {
  return ((uint64_t)((addr & 0x3FFFF) >> 4)) | ((uint64_t)(16 >> 4) << 16) |
         ((uint64_t)(1024 >> 4) << 32) | (1ull << 62);
}

__device__ __forceinline__ void wgmma_m64n128k16(float *d, uint64_t descA,
                                                 uint64_t descB) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
               "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
               : "l"(descA), "l"(descB));
}

__device__ __forceinline__ void wgmma_m64n256k16(float *d, uint64_t descA,
                                                 uint64_t descB) {
  asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, 1, 0;\n"
               "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 "
               "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%46,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63,%64,%65,%66,%67,%68,%69,%70,%71,%72,%73,%74,%75,%76,%77,%78,%79,%80,%81,%82,%83,%84,%85,%86,%87,%88,%89,%90,%91,%92,%93,%94,%95,%96,%97,%98,%99,%100,%101,%102,%103,%104,%105,%106,%107,%108,%109,%110,%111,%112,%113,%114,%115,%116,%117,%118,%119,%120,%121,%122,%123,%124,%125,%126,%127}, %128, %129, p, 1, 1, 0, 0;\n}\n"
               : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]), "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]), "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]), "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
               : "l"(descA), "l"(descB));
}

__device__ __forceinline__ unsigned pack_half2(float lo, float hi) {
  unsigned short l, h;
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(l) : "f"(lo));
  asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(hi));
  return (unsigned)l | ((unsigned)h << 16);
}

extern "C" __global__ void __launch_bounds__(THREADS, 1)
    kuai_gemm_tn_f16_sm90a(const half_t *__restrict__ A,
                           const half_t *__restrict__ W,
                           half_t *__restrict__ C, int M, int N, int K) {
  extern __shared__ __align__(1024) unsigned char smem_raw[];
  // 1024-byte aligned stage buffers: A tiles then B tiles.
  unsigned base = (smem_addr(smem_raw) + 1023) & ~1023u;
  const unsigned aBytes = BM * BK * 2, bBytes = BN * BK * 2;
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int wg = warp / 4; // warpgroup: rows wg*64 .. wg*64+63
  const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
  const int ktiles = K / BK;

  auto aTile = [&](int s) { return base + s * aBytes; };
  auto bTile = [&](int s) { return base + STAGES * aBytes + s * bBytes; };
  // 16-byte chunk c of row r goes to chunk c ^ (r % 8): the 128B swizzle.
  auto load_tile = [&](int stage, int kt) {
    const int k0 = kt * BK;
#pragma unroll
    for (int i = tid; i < BM * BK / 8; i += THREADS) {
      int r = i / 8, c = i % 8;
      int gr = row0 + r;
      cp_async16(aTile(stage) + r * 128 + ((c ^ (r % 8)) * 16),
                 A + (size_t)(gr < M ? gr : 0) * K + k0 + c * 8, gr < M);
    }
#pragma unroll
    for (int i = tid; i < BN * BK / 8; i += THREADS) {
      int r = i / 8, c = i % 8;
      cp_async16(bTile(stage) + r * 128 + ((c ^ (r % 8)) * 16),
                 W + (size_t)(col0 + r) * K + k0 + c * 8, true);
    }
  };

  float d[BN / 2];
#pragma unroll
  for (int i = 0; i < BN / 2; ++i)
    d[i] = 0.f;

#pragma unroll
  for (int s = 0; s < AHEAD; ++s) {
    if (s < ktiles)
      load_tile(s, s);
    asm volatile("cp.async.commit_group;\n");
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(AHEAD - 1));
    // cp.async wrote through the generic proxy; wgmma reads through the
    // async proxy.
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();
    // Stage (kt + AHEAD) % STAGES last held tile kt - 2, whose wgmma the
    // wait_group(1) of the previous iteration has retired.
    int next = kt + AHEAD;
    if (next < ktiles)
      load_tile(next % STAGES, next);
    asm volatile("cp.async.commit_group;\n");

    unsigned a = aTile(kt % STAGES) + wg * 64 * 128, b = bTile(kt % STAGES);
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk)
      if (BN == 256)
        wgmma_m64n256k16(d, smem_desc(a + kk * 32), smem_desc(b + kk * 32));
      else
        wgmma_m64n128k16(d, smem_desc(a + kk * 32), smem_desc(b + kk * 32));
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    // Keep one group in flight: the next tile's wgmma overlaps this one.
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  asm volatile("cp.async.wait_group 0;\n");

  // Accumulators: warp w of the group holds rows 16*(w%4) + lane/4 (+8),
  // n8 tile j holds cols 8j + 2*(lane%4) + {0, 1}.
  const int r = row0 + wg * 64 + (warp % 4) * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    int c = col0 + j * 8 + (lane % 4) * 2;
    if (r < M)
      *(unsigned *)(C + (size_t)r * N + c) = pack_half2(d[4 * j], d[4 * j + 1]);
    if (r + 8 < M)
      *(unsigned *)(C + (size_t)(r + 8) * N + c) =
          pack_half2(d[4 * j + 2], d[4 * j + 3]);
  }
}
