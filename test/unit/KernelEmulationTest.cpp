//===- KernelEmulationTest.cpp - Decode kernels, emulated on the CPU ------===//
//
// kuai_sample, kuai_argmax and kuai_paged_attention_split + _combine from
// lib/Codegen/templates/paged_attention.cu (fp32 instantiations), the
// tensor-core GEMV of linear_gemv.cu (bf16, through an emulated mma.sync)
// and the warp-per-row norms of kuai_norm.cuh, run on the CPU through
// CudaEmulation.h and compared with host definitions: kuai/sampling.h for
// the picks, a direct softmax for attention, a double-precision dot
// product for the GEMV, double-precision layer/RMS norms. The GPU machine
// runs the same comparisons on the GPU for all dtypes
// (test/gpu/sampling_check.cu, test/gpu/paged_attention_check.cu,
// test/gpu/linear_gemv_check.cu); the norms run there in every fixture and
// model (test/gpu/run_fixtures_gpu.sh, bench/model_bench.py).
//
//===----------------------------------------------------------------------===//
#include "CudaEmulation.h"
#define KUAI_WITH_F32
#include "kuai_norm.cuh"
#include "linear_gemv.cu"
#include "paged_attention.cu"

#include "kuai/sampling.h"
#include <gtest/gtest.h>
#include <random>

namespace {

std::vector<float> noisyRows(int64_t rows, int64_t columns, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.f, 2.f);
  std::vector<float> x(size_t(rows * columns));
  for (size_t i = 0; i < x.size(); ++i)
    x[i] = noise(rng) + (i % 97 == 5 ? 6.f : 0.f);
  return x;
}

TEST(KernelEmulation, SampleMatchesTheHostDefinition) {
  const int64_t columns = 3000;
  struct Setting {
    float temperature;
    int topK;
    float topP;
  };
  const Setting settings[] = {{1.f, 0, 1.f},  {0.7f, 40, 1.f},
                              {1.f, 0, 0.9f}, {1.3f, 50, 0.6f},
                              {0.5f, 1, 1.f}, {1.f, 3000, 0.95f}};
  std::vector<float> params;
  for (const Setting &s : settings)
    for (int d = 0; d < 3; ++d)
      params.insert(params.end(), {s.temperature, float(s.topK), s.topP,
                                   float(kuai::samplingUniform(9, d))});
  params.insert(params.end(), {0.f, 0.f, 1.f, 0.3f}); // greedy: untouched
  const int64_t rows = int64_t(params.size() / 4);
  std::vector<float> x = noisyRows(rows, columns, 1);
  x[2 * columns + 100] = INFINITY; // no finite weights: the argmax stays
  std::vector<int> ids(rows, -1);
  cuda_emulation::launch({unsigned(rows), 1, 1}, ARGMAX_THREADS, [&] {
    kuai_sample_f32(x.data(), params.data(), ids.data(), columns, 1);
  });
  int boundary = 0;
  for (int64_t r = 0; r + 1 < rows; ++r) {
    const float *q = params.data() + r * 4;
    int64_t want = kuai::samplePick(x.data() + r * columns, columns, q[0],
                                    int64_t(q[1]), q[2], q[3]);
    if (r == 2) { // the kernel leaves the argmax (the id already there)
      EXPECT_EQ(want, 100);
      EXPECT_EQ(ids[r], -1);
      continue;
    }
    if (ids[r] == want)
      continue;
    // Float sums here, double sums there: a pick at a boundary may move.
    bool near = false;
    for (double du : {-1e-4, 1e-4})
      near = near || kuai::samplePick(x.data() + r * columns, columns, q[0],
                                      int64_t(q[1]), q[2],
                                      std::max(0.0, q[3] + du)) == ids[r];
    EXPECT_TRUE(near) << "row " << r << ": kernel " << ids[r] << ", host "
                      << want;
    boundary += near;
  }
  EXPECT_LE(boundary, 1);
  EXPECT_EQ(ids[rows - 1], -1) << "a temperature-0 row keeps the argmax";
}

TEST(KernelEmulation, ArgmaxTakesTheFirstMaximum) {
  const int64_t columns = 5003, rows = 3; // not a multiple of the vector
  std::vector<float> x = noisyRows(rows, columns, 2);
  x[0 * columns + 4000] = x[0 * columns + 17] = 100.f;
  x[1 * columns + 5002] = 100.f;
  x[2 * columns + 0] = 100.f;
  std::vector<int> ids(rows, -1);
  cuda_emulation::launch({unsigned(rows), 1, 1}, ARGMAX_THREADS, [&] {
    kuai_argmax_f32(x.data(), ids.data(), columns);
  });
  EXPECT_EQ(ids, (std::vector<int>{17, 5002, 0}));
}

/// Split-KV decode attention with GQA 4:1 and head dims 32 over two
/// sequences (lengths 1 and past[1] + 1) in shuffled pages, launched as
/// LowerToKernels.cpp does, against a direct softmax.
void checkSplitAttention(int page, int blocks, std::vector<int> past) {
  const int batch = 2, qHeads = 8, kvHeads = 2, d = 32;
  const int pagesPerSplit = std::max(1, 32 / page);
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  auto fill = [&](size_t n) {
    std::vector<float> v(n);
    for (float &f : v)
      f = uni(rng);
    return v;
  };
  std::vector<float> q = fill(size_t(batch) * qHeads * d);
  std::vector<float> kc = fill(size_t(batch) * blocks * kvHeads * page * d);
  std::vector<float> vc = fill(kc.size());
  std::vector<int> table(batch * blocks);
  for (int i = 0; i < batch * blocks; ++i)
    table[i] = (i * 5 + 3) % (batch * blocks); // a permutation
  PagedShape s{};
  s.batch = batch;
  s.q_heads = qHeads;
  s.kv_heads = kvHeads;
  s.q_len = 1;
  s.d = s.dv = d;
  s.page = page;
  s.blocks = blocks;
  i64 strides[3] = {i64(qHeads) * d, d, d};
  for (int i = 0; i < 3; ++i)
    s.q_stride[i] = s.k_stride[i] = s.v_stride[i] = s.o_stride[i] = strides[i];
  const float scale = 0.25f;
  const int splits = (blocks + pagesPerSplit - 1) / pagesPerSplit;
  std::vector<float> ws(size_t(blocks) * batch * qHeads * (d + 2), -1.f);
  std::vector<float> out(size_t(batch) * qHeads * d, 0.f);
  cuda_emulation::launch({unsigned(batch * kvHeads), unsigned(splits), 1},
                         PAGED_SPLIT_THREADS, [&] {
                           kuai_paged_attention_split_f32(
                               q.data(), kc.data(), vc.data(), table.data(),
                               past.data(), ws.data(), s, scale, pagesPerSplit);
                         });
  cuda_emulation::launch({unsigned(batch * qHeads / 4), 1, 1}, 128, [&] {
    kuai_paged_attention_combine_f32(ws.data(), out.data(), s, pagesPerSplit);
  });
  auto rowOf = [&](int b, int hk, int t) {
    return (size_t(table[b * blocks + t / page]) * kvHeads + hk) * page +
           t % page;
  };
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < qHeads; ++h) {
      int hk = h / (qHeads / kvHeads);
      std::vector<double> p;
      double big = -1e300, sum = 0;
      for (int t = 0; t <= past[b]; ++t) {
        double dot = 0;
        for (int i = 0; i < d; ++i)
          dot += double(q[(b * qHeads + h) * d + i]) * scale *
                 kc[rowOf(b, hk, t) * d + i];
        p.push_back(dot);
        big = std::max(big, dot);
      }
      for (double &v : p)
        sum += (v = std::exp(v - big));
      for (int i = 0; i < d; ++i) {
        double want = 0;
        for (int t = 0; t <= past[b]; ++t)
          want += p[t] / sum * vc[rowOf(b, hk, t) * d + i];
        EXPECT_NEAR(out[(b * qHeads + h) * d + i], want, 1e-5)
            << "page " << page << " sequence " << b << " head " << h << " dim "
            << i;
      }
    }
}

TEST(KernelEmulation, SplitAttentionMatchesSoftmax) {
  // Pages of 16: two pages (32 positions) per split, 3 splits in use.
  checkSplitAttention(16, 4, {0, 44});
  // Pages of 128: a page per split, 128 positions in two tiles of 64 (the
  // online softmax rescales across tiles).
  checkSplitAttention(128, 2, {0, 200});
}

/// The tensor-core GEMV (rows 2..8·NT) against a double-precision host
/// linear on the same bf16 values: y = SiLU(x · Wᵀ + bias) + residual.
template <typename TO, int NT>
void checkGemvMma(int64_t M, int64_t N, int64_t K) {
  std::mt19937 rng(unsigned(M * 131 + N * 7 + K));
  std::normal_distribution<float> noise(0.f, 1.f);
  auto bf16Values = [&](size_t count, std::vector<kuai_bf16> &bits,
                        std::vector<double> &values) {
    for (size_t i = 0; i < count; ++i) {
      kuai_bf16 h{uint16_t(cuda_emulation::roundBf16(noise(rng)))};
      bits.push_back(h);
      values.push_back(to_f32(h));
    }
  };
  std::vector<kuai_bf16> x, w, bias;
  std::vector<double> xv, wv, biasv;
  bf16Values(size_t(M * K), x, xv);
  bf16Values(size_t(N * K), w, wv);
  bf16Values(size_t(N), bias, biasv);
  std::vector<TO> residual, y(size_t(M * N));
  for (int64_t i = 0; i < M * N; ++i)
    residual.push_back(from_f32<TO>(noise(rng)));
  cuda_emulation::launch({unsigned((N + 15) / 16)}, GEMV_WARPS * 32, [&] {
    linear_gemv_mma<kuai_bf16, TO, NT, GEMV_MMA_UNROLL(NT)>(
        x.data(), w.data(), bias.data(), residual.data(), y.data(), M, N, K,
        /*SiLU*/ 3);
  });
  for (int64_t m = 0; m < M; ++m)
    for (int64_t n = 0; n < N; ++n) {
      double dot = biasv[size_t(n)];
      for (int64_t k = 0; k < K; ++k)
        dot += xv[size_t(m * K + k)] * wv[size_t(n * K + k)];
      double want =
          dot / (1 + std::exp(-dot)) + to_f32(residual[size_t(m * N + n)]);
      double got = to_f32(y[size_t(m * N + n)]);
      // bf16 output: 2^-8 relative; fp32 output: fp32 sums over K terms.
      double tol = (sizeof(TO) == 2 ? 8e-3 : 1e-4) * (std::fabs(want) + 1);
      ASSERT_NEAR(got, want, tol) << "M " << M << " N " << N << " K " << K
                                  << " row " << m << " column " << n;
    }
}

TEST(KernelEmulation, TensorCoreGemvMatchesTheLinear) {
  // N not a multiple of 16 (a partial tile of W rows), K/8 = 37 chunks (not a
  // multiple of 4: lanes past K read zeros), M from 1 to the tile's rows.
  for (int64_t m : {1, 5, 8})
    checkGemvMma<kuai_bf16, 1>(m, 40, 296);
  checkGemvMma<float, 1>(8, 24, 2048);
  // K = 4096: every warp takes two steps (8 warps x 32 chunks a round).
  checkGemvMma<kuai_bf16, 1>(8, 16, 4096);
  checkGemvMma<kuai_bf16, 2>(11, 40, 296);
  checkGemvMma<kuai_bf16, 4>(32, 17, 136);
}

/// norm_rows_vec (16-byte accesses, rows packed in registers) and
/// norm_rows_warp against a double-precision layer norm (or RMS norm) on
/// the same values, eight rows a 256-thread block as kuai-compile launches
/// them. Rows past `rows` and elements past each row stay untouched.
template <typename TI, typename T>
void checkNorms(int64_t rows, int64_t inner, bool rms) {
  std::mt19937 rng(unsigned(rows * 31 + inner + rms));
  std::normal_distribution<float> noise(0.f, 1.f);
  auto values = [&](size_t count, auto &stored, float offset) {
    std::vector<double> out;
    for (size_t i = 0; i < count; ++i) {
      using E = typename std::decay_t<decltype(stored)>::value_type;
      stored.push_back(from_f32<E>(noise(rng) + offset));
      out.push_back(to_f32(stored.back()));
    }
    return out;
  };
  std::vector<TI> x;
  std::vector<T> weight, bias;
  std::vector<double> xv = values(size_t(rows * inner), x, 3.f),
                      wv = values(size_t(inner), weight, 1.f),
                      bv = values(size_t(inner), bias, 0.f);
  const T sentinel = from_f32<T>(1234.f);
  for (bool vectorized : {true, false}) {
    // One spare row after the output: nothing may be written there.
    std::vector<T> y(size_t((rows + 1) * inner), sentinel);
    const T *b = rms ? nullptr : bias.data();
    cuda_emulation::launch({unsigned((rows + 7) / 8)}, 256, [&] {
      if (vectorized)
        norm_rows_vec<TI, T>(x.data(), weight.data(), b, y.data(), rows, inner,
                             1e-5f, rms);
      else
        norm_rows_warp<TI, T>(x.data(), weight.data(), b, y.data(), rows, inner,
                              1e-5f, rms);
    });
    for (int64_t r = 0; r < rows; ++r) {
      double mean = 0, sq = 0;
      for (int64_t i = 0; i < inner; ++i)
        mean += xv[size_t(r * inner + i)] / double(inner);
      if (rms)
        mean = 0;
      for (int64_t i = 0; i < inner; ++i) {
        double d = xv[size_t(r * inner + i)] - mean;
        sq += d * d / double(inner);
      }
      const double scale = 1 / std::sqrt(sq + 1e-5);
      for (int64_t i = 0; i < inner; ++i) {
        double want =
            (xv[size_t(r * inner + i)] - mean) * scale * wv[size_t(i)] +
            (rms ? 0 : bv[size_t(i)]);
        double got = to_f32(y[size_t(r * inner + i)]);
        // 16-bit output: 2^-8 relative; fp32: fp32 sums over the row.
        double tol = (sizeof(T) == 2 ? 8e-3 : 1e-5) * (std::fabs(want) + 1);
        ASSERT_NEAR(got, want, tol)
            << (vectorized ? "norm_rows_vec" : "norm_rows_warp") << " inner "
            << inner << " row " << r << " element " << i;
      }
    }
    for (int64_t i = 0; i < inner; ++i)
      ASSERT_EQ(to_f32(y[size_t(rows * inner + i)]), to_f32(sentinel))
          << "written past the last row";
  }
}

TEST(KernelEmulation, WarpNormsMatchTheDefinition) {
  // 16 elements: lanes 2..31 hold no run; 24: one run a lane for 3 lanes;
  // 768 (BERT, GPT-2): three of four runs; 1024: every run. 11 rows: the
  // second block has 3 rows and 5 idle warps.
  for (int64_t inner : {16, 24, 768, 1024}) {
    checkNorms<kuai_bf16, kuai_bf16>(11, inner, false);
    checkNorms<float, float>(11, inner, false);
  }
  checkNorms<kuai_bf16, kuai_bf16>(9, 768, true);
  checkNorms<float, kuai_bf16>(9, 1024, true); // fp32 residual stream in
}

} // namespace
