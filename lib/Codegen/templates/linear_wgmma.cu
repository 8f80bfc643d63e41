// Hopper tensor-core linear (sm_90a) with the fused epilogue of linear_tc:
//   y[M, N] = act(x[M, K] · W[N, K]ᵀ + bias) + residual
// Warp-specialized: one producer warpgroup streams 128xBK tiles of x and
// BNxBK tiles of W into STAGES shared buffers with the tensor memory
// accelerator (128-byte swizzle, completion counted on a `full` mbarrier);
// two consumer warpgroups each multiply 64 rows of the tile with wgmma
// m64nBNk16 straight from shared memory, keep one wgmma group in flight
// and hand a stage back through its `empty` mbarrier. The copy engine
// zero-fills what lies outside x and W, so M, N and K are arbitrary; the
// runtime encodes the two tensor maps (`tmap:` plan arguments) with
// 64-column boxes, 128 rows for x and BN rows for W; K must be a multiple
// of 8 (16-byte row stride). Blocks are ordered in groups of 8 row tiles,
// so that concurrent blocks share their W tiles in L2.
//
// Split-K in a cluster (SPLITS > 1, for products with too few output tiles
// to fill the SMs): the SPLITS blocks of a tile (blockIdx.z) form one thread
// block cluster and each multiplies its share of K. Each stages its fp32
// partial tile in its own shared memory; after a cluster barrier, block r
// sums rows r*128/SPLITS.. of all the partials through distributed shared
// memory and applies the epilogue. No workspace in global memory and no
// reduction launch: the split costs one barrier and an on-chip read of the
// partials.

#include "kuai_epilogue.cuh"
#include "kuai_wgmma.cuh"

#define WG_BM 128
#define WG_BK 64
#define WG_THREADS 384

/// Reads 16 bytes at shared address `addr` of the cluster's block `rank`.
__device__ __forceinline__ float4 ld_cluster_f4(unsigned addr, unsigned rank) {
  unsigned remote;
  float4 v;
  asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n"
               : "=r"(remote)
               : "r"(addr), "r"(rank));
  asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n"
               : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w)
               : "r"(remote)
               : "memory");
  return v;
}
/// Every thread of every block of the cluster: writes to shared memory
/// before it are visible to the cluster after it.
__device__ __forceinline__ void cluster_sync() {
  asm volatile("barrier.cluster.arrive.release;\n"
               "barrier.cluster.wait.acquire;\n" ::
                   : "memory");
}

/// Tile `id` of a tilesM x tilesN grid in grouped order: 8 row tiles per
/// group walk the column tiles, so that concurrent blocks share their W
/// tiles in L2.
__device__ __forceinline__ void grouped_tile(int id, int tilesM, int tilesN,
                                             int &tileM, int &tileN) {
  const int first = (id / (8 * tilesN)) * 8;
  const int groupRows = min(tilesM - first, 8);
  tileM = first + (id % (8 * tilesN)) % groupRows;
  tileN = (id % (8 * tilesN)) / groupRows;
}

/// A consumer warpgroup's share of one tile: its 64 rows times BN columns
/// over `ktiles` k-tiles, the first of which is the pipeline's k-tile `g`
/// (stage g % STAGES, round g / STAGES). Keeps one wgmma group in flight
/// and hands each stage back (lane 0 of each warp) once its group is done.
template <typename T, int BN, int STAGES>
__device__ __forceinline__ void
consume_ktiles(float *d, unsigned tiles, unsigned fullBar, unsigned emptyBar,
               unsigned g, int ktiles, int consumer, int lane) {
  constexpr unsigned A_BYTES = WG_BM * WG_BK * 2, B_BYTES = BN * WG_BK * 2;
#pragma unroll
  for (int i = 0; i < BN / 2; ++i)
    d[i] = 0.f;
  for (int kt = 0; kt < ktiles; ++kt, ++g) {
    const unsigned s = g % STAGES;
    mbar_wait(fullBar + 8 * s, (g / STAGES) & 1);
    const unsigned a = tiles + s * A_BYTES + consumer * 64 * 128,
                   b = tiles + STAGES * A_BYTES + s * B_BYTES;
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < WG_BK / 16; ++kk)
      wgmma_m64k16<BN, T::is_bf16>(d, wgmma_desc(a + kk * 32),
                                   wgmma_desc(b + kk * 32));
    wgmma_commit();
    // The group of k-tile g - 1 is done: its stage can be refilled.
    wgmma_wait<1>();
    if (kt > 0 && lane == 0)
      mbar_arrive(emptyBar + 8 * ((g - 1) % STAGES));
  }
  wgmma_wait<0>();
}

/// Stores a consumer's accumulators (wgmma's fragment layout) as fp32 rows
/// of `LD` floats: 64 rows from `rows`.
template <int BN, int LD>
__device__ __forceinline__ void stage_rows(const float *d, float *rows,
                                           int warp, int lane) {
  const int fr = warp * 16 + lane / 4;
#pragma unroll
  for (int j = 0; j < BN / 8; ++j) {
    const int c = j * 8 + (lane % 4) * 2;
    *(float2 *)&rows[fr * LD + c] = make_float2(d[4 * j], d[4 * j + 1]);
    *(float2 *)&rows[(fr + 8) * LD + c] =
        make_float2(d[4 * j + 2], d[4 * j + 3]);
  }
}

template <typename T, typename TO, int BN, int STAGES, int SPLITS>
__device__ __forceinline__ void
linear_wgmma(const kuai_tensor_map *mapX, const kuai_tensor_map *mapW,
             const T *__restrict__ bias, const TO *__restrict__ residual,
             TO *__restrict__ y, i64 M, i64 N, i64 K, int act) {
  constexpr unsigned A_BYTES = WG_BM * WG_BK * 2, B_BYTES = BN * WG_BK * 2;
  // The epilogue's fp32 rows (padded: conflict-free float2 stores) and the
  // threads per row that store them, four columns each.
  constexpr int LD = BN + 8, PER_ROW = BN / 4;
  extern __shared__ __align__(1024) unsigned char wg_smem[];
  // Swizzled tiles need 1024-byte alignment; the barriers follow them.
  const unsigned base = (smem_addr(wg_smem) + 1023) & ~1023u;
  const unsigned fullBar = base + STAGES * (A_BYTES + B_BYTES);
  const unsigned emptyBar = fullBar + STAGES * 8;
  auto tileA = [&](int s) { return base + s * A_BYTES; };
  auto tileB = [&](int s) { return base + STAGES * A_BYTES + s * B_BYTES; };

  int tileM, tileN;
  grouped_tile(blockIdx.y * gridDim.x + blockIdx.x, gridDim.y, gridDim.x, tileM,
               tileN);
  const i64 row0 = i64(tileM) * WG_BM, col0 = i64(tileN) * BN;
  // This block's k-tiles: [kt0, kt0 + ktiles), a share of K when split.
  const int allTiles = int((K + WG_BK - 1) / WG_BK);
  const int per = (allTiles + SPLITS - 1) / SPLITS;
  const int kt0 = min(allTiles, int(blockIdx.z) * per);
  const int ktiles = min(allTiles, kt0 + per) - kt0;
  const int warpgroup = threadIdx.x / 128;

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(fullBar + 8 * s, 1);
      mbar_init(emptyBar + 8 * s, 8); // lane 0 of each consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warpgroup == 0) {
    // Producer: one thread issues the copies; the others only give up
    // their registers to the consumers.
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      for (int kt = 0; kt < ktiles; ++kt) {
        const int s = kt % STAGES;
        const unsigned round = kt / STAGES;
        mbar_wait(emptyBar + 8 * s, (round & 1) ^ 1);
        mbar_arrive_expect_tx(fullBar + 8 * s, A_BYTES + B_BYTES);
        const int k0 = (kt0 + kt) * WG_BK;
        tma_load_2d(tileA(s), mapX, fullBar + 8 * s, k0, int(row0));
        tma_load_2d(tileB(s), mapW, fullBar + 8 * s, k0, int(col0));
      }
    }
  } else {
    asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
    const int consumer = warpgroup - 1; // rows consumer*64 .. +63
    const int lane = threadIdx.x % 32, warp = (threadIdx.x / 32) % 4;
    float d[BN / 2];
    consume_ktiles<T, BN, STAGES>(d, base, fullBar, emptyBar, 0, ktiles,
                                  consumer, lane);

    // Both consumers are done with the stage buffers: stage the
    // accumulators there as rows, so that the epilogue reads and writes
    // global memory 8 or 16 bytes per thread, coalesced, in a small loop.
    asm volatile("bar.sync 1, 256;\n" ::: "memory");
    unsigned char *tileBase = wg_smem + (base - smem_addr(wg_smem));
    float *rows = (float *)tileBase + consumer * 64 * LD;
    // The consumer's 64 x BN residual tile, where it fits behind both
    // consumers' rows: copied into shared memory with cp.async now, while
    // the accumulators are staged, so that the epilogue waits for one load
    // latency, not one per step of its loop (the residual loads of the
    // rolled loop below cost MLP-down 11 us and the attention output 4 us
    // a launch in BERT 32x128: gemm-wgmma-encoder-h200-2026-12-03.md).
    constexpr int CHUNK = 16 / int(sizeof(TO)); // elements a 16-byte copy
    constexpr unsigned ROWS_BYTES = 2 * 64 * LD * 4,
                       RES_BYTES = 64 * BN * sizeof(TO);
    constexpr bool FITS = SPLITS == 1 && ROWS_BYTES + 2 * RES_BYTES <=
                                             STAGES * (A_BYTES + B_BYTES);
    const bool stageResidual = FITS && residual && N % CHUNK == 0 &&
                               (unsigned long long)residual % 16 == 0;
    TO *resTile = (TO *)(tileBase + ROWS_BYTES) + consumer * 64 * BN;
    const i64 rowFirst = row0 + consumer * 64;
    if (stageResidual) {
      const int t = threadIdx.x % 128;
#pragma unroll 1
      for (int idx = t; idx < 64 * (BN / CHUNK); idx += 128) {
        const int rr = idx / (BN / CHUNK), c = (idx % (BN / CHUNK)) * CHUNK;
        if (rowFirst + rr < M && col0 + c < N)
          cp_async16(resTile + rr * BN + c,
                     residual + (rowFirst + rr) * N + col0 + c);
      }
      asm volatile("cp.async.commit_group;\n" ::: "memory");
    }
    stage_rows<BN, LD>(d, rows, warp, lane);
    if constexpr (SPLITS == 1) {
      // The copies of every thread of this consumer land before its barrier.
      if (stageResidual)
        asm volatile("cp.async.wait_group 0;\n" ::: "memory");
      asm volatile("bar.sync %0, 128;\n" ::"r"(2 + consumer) : "memory");
      const int t = threadIdx.x % 128;
#pragma unroll 1
      for (int idx = t; idx < 64 * PER_ROW; idx += 128) {
        const int rr = idx / PER_ROW, c = (idx % PER_ROW) * 4;
        const i64 r = rowFirst + rr;
        if (r >= M)
          break;
        if (col0 + c >= N)
          continue;
        const TO *res = stageResidual ? resTile + rr * BN + c
                        : residual    ? residual + r * N + col0 + c
                                      : nullptr;
        epilogue_store4<T, TO>(*(const float4 *)&rows[rr * LD + c], bias, res,
                               y, r, col0 + c, N, act);
      }
    }
  }
  if constexpr (SPLITS > 1) {
    // The partial tile is 128 rows of LD floats from `base` in every block
    // of the cluster. The producer warpgroup takes part in the barriers
    // only: it has given its registers away.
    constexpr int SLICE = WG_BM / SPLITS;
    cluster_sync();
    if (warpgroup > 0) {
      unsigned rank;
      asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(rank));
      const int t = threadIdx.x - 128;
#pragma unroll 1
      for (int idx = t; idx < SLICE * PER_ROW; idx += 256) {
        const int rr = int(rank) * SLICE + idx / PER_ROW,
                  c = (idx % PER_ROW) * 4;
        const i64 r = row0 + rr;
        if (r >= M)
          break;
        if (col0 + c >= N)
          continue;
        const unsigned at = base + unsigned(rr * LD + c) * 4;
        float4 sum = ld_cluster_f4(at, 0);
#pragma unroll
        for (int q = 1; q < SPLITS; ++q) {
          const float4 v = ld_cluster_f4(at, q);
          sum.x += v.x, sum.y += v.y, sum.z += v.z, sum.w += v.w;
        }
        epilogue_store4<T, TO>(sum, bias,
                               residual ? residual + r * N + col0 + c : nullptr,
                               y, r, col0 + c, N, act);
      }
    }
    // No block leaves while another may still read its shared memory.
    cluster_sync();
  }
}

/// Two neighbouring elements (4 bytes of 16-bit, 8 of fp32) as floats
/// when `pred`, zeros otherwise; stored back likewise. Inline PTX with a
/// predicate, so that the compiler keeps one predicated access where C++
/// branches would let it duplicate the unrolled epilogue per case. The
/// loads are not volatile and the stores clobber no memory, so the
/// compiler may issue a column's loads together, ahead of its stores
/// (volatile accesses in program order left every bias and residual load's
/// latency exposed: in BERT's fc1 the ping-pong tiles took 75 us instead
/// of 57 without bias). A residual aliasing y is read before the store of
/// the same element, which depends on it.
template <typename TO>
__device__ __forceinline__ float2 load_pair_if(const TO *p, bool pred) {
  if constexpr (sizeof(TO) == 4) {
    float2 v = make_float2(0.f, 0.f);
    asm("{\n.reg .pred q;\nsetp.ne.u32 q, %3, 0;\n"
        "@q ld.global.v2.f32 {%0, %1}, [%2];\n}\n"
        : "+f"(v.x), "+f"(v.y)
        : "l"(p), "r"(int(pred)));
    return v;
  } else {
    unsigned u = 0;
    asm("{\n.reg .pred q;\nsetp.ne.u32 q, %2, 0;\n"
        "@q ld.global.b32 %0, [%1];\n}\n"
        : "+r"(u)
        : "l"(p), "r"(int(pred)));
    TO lo, hi;
    lo.bits = (unsigned short)(u & 0xffff);
    hi.bits = (unsigned short)(u >> 16);
    return make_float2(to_f32(lo), to_f32(hi));
  }
}
template <typename TO>
__device__ __forceinline__ void store_pair_if(TO *p, float a, float b,
                                              bool pred) {
  if constexpr (sizeof(TO) == 4)
    asm volatile("{\n.reg .pred q;\nsetp.ne.u32 q, %3, 0;\n"
                 "@q st.global.v2.f32 [%0], {%1, %2};\n}\n" ::"l"(p),
                 "f"(a), "f"(b), "r"(int(pred)));
  else
    asm volatile("{\n.reg .pred q;\nsetp.ne.u32 q, %2, 0;\n"
                 "@q st.global.b32 [%0], %1;\n}\n" ::"l"(p),
                 "r"(pack2_t<TO>(a, b)), "r"(int(pred)));
}

/// The epilogue of a ping-pong consumer's 128 x BN tile from its
/// accumulators (wgmma's fragment layout: d0 rows 0..63, d1 rows 64..127;
/// this thread's rows row, row + 8, row + 64, row + 72 and its column pairs
/// col + 8q): bias and residual, no activation. N must be even (pairs
/// 4-byte aligned; the lowering picks this kernel only then). Every access
/// is inlined and unrolled (the accumulators are registers), so the code
/// must stay short and straight: each bias pair read once for the four
/// rows, row pointers computed once, residual and output accessed under
/// predicates, the tile's bias read from shared memory (biasCols: this
/// thread's first pair; zeros without a bias).
template <typename T, typename TO, int BN>
__device__ __forceinline__ void
pingpong_epilogue(const float (&d0)[BN / 2], const float (&d1)[BN / 2],
                  const float *biasCols, const TO *__restrict__ residual,
                  TO *__restrict__ y, i64 row, i64 col, i64 M, i64 N) {
  TO *out[4];
  const TO *res[4];
  bool rowIn[4];
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const i64 r = row + (i & 1) * 8 + (i >> 1) * 64;
    rowIn[i] = r < M;
    out[i] = y + r * N;
    res[i] = residual + r * N;
  }
  const bool hasResidual = residual != nullptr;
#pragma unroll
  for (int q = 0; q < BN / 8; ++q) {
    const i64 c = col + q * 8; // even, so c < N means c + 1 < N
    const bool colIn = c < N;
    const float2 b = *(const float2 *)(biasCols + q * 8);
#pragma unroll
    for (int i = 0; i < 4; ++i) {
      const bool in = rowIn[i] && colIn;
      const float *d = i < 2 ? d0 : d1;
      const int at = 4 * q + 2 * (i & 1);
      const float2 r = load_pair_if<TO>(res[i] + c, hasResidual && in);
      store_pair_if<TO>(out[i] + c, d[at] + b.x + r.x, d[at + 1] + b.y + r.y,
                        in);
    }
  }
}

/// Persistent ping-pong variant: each block (one an SM) takes the tiles
/// blockIdx.x, blockIdx.x + gridDim.x, ...; its two consumer warpgroups
/// own alternate tiles whole (128 x BN, two m64 wgmmas a k-step), and their
/// main loops take turns, so that one's epilogue (from registers: bias,
/// residual, stores) runs while the other's wgmmas do. The
/// producer streams the k-tiles of the block's tiles in order into one ring
/// of STAGES, also during epilogues, so no tile waits for its pipeline to
/// fill. Turns are named barriers 4 and 5 (warpgroup 1's and 2's): a
/// consumer starts waiting for its tile's k-tiles only once the other has
/// waited for all of the previous tile's, so no consumer runs a whole ring
/// round ahead of the k-tiles it waits for (an mbarrier only tells phases
/// apart by parity).
template <typename T, typename TO, int BN, int STAGES>
__device__ __forceinline__ void
linear_wgmma_pingpong(const kuai_tensor_map *mapX, const kuai_tensor_map *mapW,
                      const T *__restrict__ bias,
                      const TO *__restrict__ residual, TO *__restrict__ y,
                      i64 M, i64 N, i64 K, int act) {
  constexpr unsigned A_BYTES = WG_BM * WG_BK * 2, B_BYTES = BN * WG_BK * 2;
  extern __shared__ __align__(1024) unsigned char wg_smem[];
  const unsigned base = (smem_addr(wg_smem) + 1023) & ~1023u;
  const unsigned fullBar = base + STAGES * (A_BYTES + B_BYTES);
  const unsigned emptyBar = fullBar + STAGES * 8;
  // Each consumer's tile bias, BN floats (1024 more bytes), after the
  // barriers.
  static_assert(BN == 128, "a bias column a consumer thread");
  float *const biasTiles =
      (float *)(wg_smem + (emptyBar + STAGES * 8 - smem_addr(wg_smem)));
  const int tilesN = int((N + BN - 1) / BN),
            tilesM = int((M + WG_BM - 1) / WG_BM);
  const int tiles = tilesN * tilesM, ktiles = int((K + WG_BK - 1) / WG_BK);
  const int warpgroup = threadIdx.x / 128;
  // No activation here: unrolled from registers, its code (erf GELU:
  // thousands of instructions) misses the instruction caches at every
  // launch inside a model (bench/results/ncu-pingpong-fc1-*). kuai-compile
  // never passes one (LowerToKernels.cpp, FuseKernels.cpp); stop loudly if
  // anything else does.
  if (act != 0)
    __trap();

  if (threadIdx.x == 0) {
    for (int s = 0; s < STAGES; ++s) {
      mbar_init(fullBar + 8 * s, 1);
      mbar_init(emptyBar + 8 * s, 4); // lane 0 of each warp of a consumer
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warpgroup == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      unsigned g = 0;
      for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
        int tileM, tileN;
        grouped_tile(tile, tilesM, tilesN, tileM, tileN);
        for (int kt = 0; kt < ktiles; ++kt, ++g) {
          const unsigned s = g % STAGES;
          mbar_wait(emptyBar + 8 * s, ((g / STAGES) & 1) ^ 1);
          mbar_arrive_expect_tx(fullBar + 8 * s, A_BYTES + B_BYTES);
          tma_load_2d(base + s * A_BYTES, mapX, fullBar + 8 * s, kt * WG_BK,
                      tileM * WG_BM);
          tma_load_2d(base + STAGES * A_BYTES + s * B_BYTES, mapW,
                      fullBar + 8 * s, kt * WG_BK, tileN * BN);
        }
      }
    }
    return;
  }
  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  const int consumer = warpgroup - 1; // takes the block's tiles j = consumer,
                                      // consumer + 2, ...
  const int lane = threadIdx.x % 32, warp = (threadIdx.x / 32) % 4;
  float d0[BN / 2], d1[BN / 2]; // rows 0..63 and 64..127 of the tile
  for (int j = consumer;; j += 2) {
    const int tile = blockIdx.x + j * int(gridDim.x);
    if (tile >= tiles)
      break;
    if (j > 0) // the other consumer has waited for tile j - 1's k-tiles
      asm volatile("bar.sync %0, 256;\n" ::"r"(4 + consumer) : "memory");
    int tileM, tileN;
    grouped_tile(tile, tilesM, tilesN, tileM, tileN);
    {
      // Every thread of this consumer has passed the turn barrier, so its
      // epilogue of tile j - 2 no longer reads these columns.
      const int t = threadIdx.x % 128;
      const i64 c = i64(tileN) * BN + t;
      biasTiles[consumer * BN + t] = bias && c < N ? to_f32(bias[c]) : 0.f;
    }
#pragma unroll
    for (int i = 0; i < BN / 2; ++i)
      d0[i] = 0.f, d1[i] = 0.f;
    unsigned g = unsigned(j) * unsigned(ktiles);
    for (int kt = 0; kt < ktiles; ++kt, ++g) {
      const unsigned s = g % STAGES;
      mbar_wait(fullBar + 8 * s, (g / STAGES) & 1);
      const unsigned a = base + s * A_BYTES,
                     b = base + STAGES * A_BYTES + s * B_BYTES;
      wgmma_fence();
#pragma unroll
      for (int kk = 0; kk < WG_BK / 16; ++kk) {
        wgmma_m64k16<BN, T::is_bf16>(d0, wgmma_desc(a + kk * 32),
                                     wgmma_desc(b + kk * 32));
        wgmma_m64k16<BN, T::is_bf16>(d1, wgmma_desc(a + 64 * 128 + kk * 32),
                                     wgmma_desc(b + kk * 32));
      }
      wgmma_commit();
      wgmma_wait<1>();
      if (kt > 0 && lane == 0)
        mbar_arrive(emptyBar + 8 * ((g - 1) % STAGES));
    }
    // Tile j + 1 (the other consumer's) may start waiting for its k-tiles.
    if (blockIdx.x + (j + 1) * int(gridDim.x) < tiles)
      asm volatile("bar.arrive %0, 256;\n" ::"r"(4 + (1 - consumer))
                   : "memory");
    wgmma_wait<0>();
    if (ktiles > 0 && lane == 0)
      mbar_arrive(emptyBar + 8 * ((g - 1) % STAGES));

    // The tile's bias columns are all written.
    asm volatile("bar.sync %0, 128;\n" ::"r"(6 + consumer) : "memory");
    const float *biasCols = biasTiles + consumer * BN + (lane % 4) * 2;
    const i64 row = i64(tileM) * WG_BM + warp * 16 + lane / 4,
              col = i64(tileN) * BN + (lane % 4) * 2;
    pingpong_epilogue<T, TO, BN>(d0, d1, biasCols, residual, y, row, col, M, N);
  }
}

// Dynamic shared memory of an instance, which kuai-compile asks for
// (LowerToKernels.cpp): STAGES * (128 + BN) * 64 * 2 bytes of tiles, 1024
// of alignment slack and 16 * STAGES of barriers. y and residual start a
// multiple of four elements into their arena slots (kuai-fuse-kernels makes
// sure), which the four-column epilogue accesses rely on; the residual
// staging checks 16 bytes itself.
#define KUAI_LINEAR_WGMMA(NAME, T, TO, BN, STAGES)                             \
  extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)                  \
      NAME(const __grid_constant__ kuai_tensor_map mapX,                       \
           const __grid_constant__ kuai_tensor_map mapW, const T *bias,        \
           const TO *residual, TO *y, i64 M, i64 N, i64 K, int act) {          \
    kuai_grid_dependency_sync();                                               \
    linear_wgmma<T, TO, BN, STAGES, 1>(&mapX, &mapW, bias, residual, y, M, N,  \
                                       K, act);                                \
  }
// Persistent ping-pong instances (grid: one block an SM, or fewer): tiles
// of 128 x 128, STAGES * (128 + 128) * 64 * 2 + 1024 + 16 * STAGES bytes of
// shared memory as the others and 1024 for the consumers' tile biases.
#define KUAI_LINEAR_WGMMA_PINGPONG(NAME, T, TO, STAGES)                        \
  extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)                  \
      NAME(const __grid_constant__ kuai_tensor_map mapX,                       \
           const __grid_constant__ kuai_tensor_map mapW, const T *bias,        \
           const TO *residual, TO *y, i64 M, i64 N, i64 K, int act) {          \
    kuai_grid_dependency_sync();                                               \
    linear_wgmma_pingpong<T, TO, 128, STAGES>(&mapX, &mapW, bias, residual, y, \
                                              M, N, K, act);                   \
  }
// Split-K over SPLITS blocks of a cluster: the grid's z is SPLITS.
#define KUAI_LINEAR_WGMMA_SPLIT(NAME, T, SPLITS)                               \
  extern "C" __global__ void __launch_bounds__(WG_THREADS, 1)                  \
      __cluster_dims__(1, 1, SPLITS)                                           \
          NAME(const __grid_constant__ kuai_tensor_map mapX,                   \
               const __grid_constant__ kuai_tensor_map mapW, const T *bias,    \
               const T *residual, T *y, i64 M, i64 N, i64 K, int act) {        \
    kuai_grid_dependency_sync();                                               \
    linear_wgmma<T, T, 128, 6, SPLITS>(&mapX, &mapW, bias, residual, y, M, N,  \
                                       K, act);                                \
  }

// Tiles of 128 rows and 256, 192 or 128 columns (4, 5 and 6 stages, as
// LowerToKernels.cpp asks): kuai-compile picks the one whose waves over the
// SMs cost least. Each with a 16-bit and an fp32 (logits) output; 128x128
// tiles also split over clusters of 2, 4 or 8 blocks (16-bit output).
#define KUAI_LINEAR_WGMMA_TILES(SUFFIX, T)                                     \
  KUAI_LINEAR_WGMMA(kuai_linear_wg256_##SUFFIX, T, T, 256, 4)                  \
  KUAI_LINEAR_WGMMA(kuai_linear_wg192_##SUFFIX, T, T, 192, 5)                  \
  KUAI_LINEAR_WGMMA(kuai_linear_wg192_##SUFFIX##_out_f32, T, float, 192, 5)    \
  KUAI_LINEAR_WGMMA(kuai_linear_wg128_##SUFFIX, T, T, 128, 6)                  \
  KUAI_LINEAR_WGMMA(kuai_linear_wg256_##SUFFIX##_out_f32, T, float, 256, 4)    \
  KUAI_LINEAR_WGMMA(kuai_linear_wg128_##SUFFIX##_out_f32, T, float, 128, 6)    \
  KUAI_LINEAR_WGMMA_PINGPONG(kuai_linear_wgpp128_##SUFFIX, T, T, 6)            \
  KUAI_LINEAR_WGMMA_PINGPONG(kuai_linear_wgpp128_##SUFFIX##_out_f32, T, float, \
                             6)                                                \
  KUAI_LINEAR_WGMMA_SPLIT(kuai_linear_wg128s2_##SUFFIX, T, 2)                  \
  KUAI_LINEAR_WGMMA_SPLIT(kuai_linear_wg128s4_##SUFFIX, T, 4)                  \
  KUAI_LINEAR_WGMMA_SPLIT(kuai_linear_wg128s8_##SUFFIX, T, 8)
#ifdef KUAI_WITH_F16
KUAI_LINEAR_WGMMA_TILES(f16, kuai_f16)
#endif
#ifdef KUAI_WITH_BF16
KUAI_LINEAR_WGMMA_TILES(bf16, kuai_bf16)
#endif
