// On the GPU machine: kuai_sample (templates/paged_attention.cu) against
// the host definition it implements (include/kuai/sampling.h). Rows of a
// Llama-3 vocabulary (128256) and of 1000 logits, in f32, f16 and bf16;
// temperatures 0.3..1.5, top-k 0 / 1 / 40 / 1000, top-p 1 / 0.9 / 0.5,
// each with 64 uniforms (16 at the large width). A pick must equal the host's;
// where it does not, the host must pick it for some u' within 1e-4 of u (with
// p, p - 1e-4 or p + 1e-4): a boundary that float sums on the GPU and double
// sums on the host place differently; such cases must stay under 1%. Rows at
// temperature 0 must keep the id already there (the argmax). Exit 1 on any
// failure.
//
//   nvcc -O2 -arch=sm_90 -std=c++17 -Ilib/Codegen/templates -Iinclude \
//     test/gpu/sampling_check.cu -o build-gpu/sampling_check
#include "kuai/sampling.h"
#include "paged_attention.cu"

#include "check_common.cuh"

#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

template <typename T> struct Sampler;
template <> struct Sampler<float> {
  static constexpr auto run = kuai_sample_f32;
};
template <> struct Sampler<kuai_f16> {
  static constexpr auto run = kuai_sample_f16;
};
template <> struct Sampler<kuai_bf16> {
  static constexpr auto run = kuai_sample_bf16;
};

template <typename T> static bool runWidth(int64_t columns, std::mt19937 &rng) {
  // Rows with a few large logits over a noisy floor, like a trained model's.
  const float temperatures[] = {0.3f, 1.f, 1.5f};
  const int topKs[] = {0, 1, 40, 1000};
  const float topPs[] = {1.f, 0.9f, 0.5f};
  const int draws = columns > 10000 ? 16 : 64; // host time: sorts of rows
  std::vector<float> params;
  for (float t : temperatures)
    for (int k : topKs)
      for (float p : topPs)
        for (int d = 0; d < draws; ++d)
          params.insert(params.end(),
                        {t, float(k), p, float(kuai::samplingUniform(5, d))});
  // One greedy row at the end: its id must stay.
  params.insert(params.end(), {0.f, 0.f, 1.f, 0.5f});
  const int64_t rows = int64_t(params.size() / 4);
  std::normal_distribution<float> noise(0.f, 2.f);
  std::vector<T> x(size_t(rows) * columns);
  std::vector<float> back(x.size());
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < columns; ++c) {
      float v = noise(rng);
      if (c % 997 == 3)
        v += 8.f; // some tokens stand out
      x[size_t(r * columns + c)] =
          Store<T>::make(v, back[size_t(r * columns + c)]);
    }
  T *dx;
  float *dp;
  int *dids;
  CHECK_CUDA(cudaMalloc(&dx, x.size() * sizeof(T)));
  CHECK_CUDA(cudaMalloc(&dp, params.size() * 4));
  CHECK_CUDA(cudaMalloc(&dids, rows * 4));
  CHECK_CUDA(
      cudaMemcpy(dx, x.data(), x.size() * sizeof(T), cudaMemcpyHostToDevice));
  CHECK_CUDA(
      cudaMemcpy(dp, params.data(), params.size() * 4, cudaMemcpyHostToDevice));
  CHECK_CUDA(cudaMemset(dids, 0xff, rows * 4)); // -1: "the argmax"
  Sampler<T>::run<<<unsigned(rows), ARGMAX_THREADS>>>(dx, dp, dids, columns, 1);
  CHECK_CUDA(cudaGetLastError());
  std::vector<int> ids(rows);
  CHECK_CUDA(cudaMemcpy(ids.data(), dids, rows * 4, cudaMemcpyDeviceToHost));
  int exact = 0, boundary = 0, wrong = 0;
  for (int64_t r = 0; r + 1 < rows; ++r) {
    const float *row = back.data() + r * columns;
    const float *q = params.data() + r * 4;
    int64_t want =
        kuai::samplePick(row, columns, q[0], int64_t(q[1]), q[2], q[3]);
    if (ids[r] == want) {
      ++exact;
      continue;
    }
    // The pick is monotone in u (index order over the kept tokens): the
    // GPU's id is a boundary case when some u' within 1e-4 of u (and p
    // within 1e-4) picks it on the host. Bisect for the smallest such u'.
    bool near = false;
    for (double dp2 : {-1e-4, 0.0, 1e-4}) {
      const double p = std::min(1.0, q[2] + dp2);
      auto pickAt = [&](double u) {
        return kuai::samplePick(row, columns, q[0], int64_t(q[1]), p, u);
      };
      double lo = std::max(0.0, q[3] - 1e-4),
             hi = std::min(0.999999, q[3] + 1e-4);
      if (pickAt(lo) > ids[r] || pickAt(hi) < ids[r])
        continue;
      for (int i = 0; i < 40; ++i) {
        double mid = 0.5 * (lo + hi);
        (pickAt(mid) >= ids[r] ? hi : lo) = mid;
      }
      near = near || pickAt(lo) == ids[r] || pickAt(hi) == ids[r];
    }
    if (near) {
      ++boundary;
    } else {
      if (++wrong <= 5)
        std::printf("  row %lld (T %.1f k %d p %.1f u %.4f): GPU %d, host "
                    "%lld\n",
                    (long long)r, q[0], int(q[1]), q[2], q[3], ids[r],
                    (long long)want);
    }
  }
  bool greedyKept = ids[rows - 1] == -1;
  bool ok = wrong == 0 && boundary * 100 < rows && greedyKept;
  std::printf("%s %-4s %6lld columns: %d of %lld picks equal the host's, %d "
              "at a boundary, %d wrong; temperature 0 row %s\n",
              ok ? "ok  " : "FAIL", Store<T>::name(), (long long)columns, exact,
              (long long)(rows - 1), boundary, wrong,
              greedyKept ? "kept its id" : "was overwritten");
  cudaFree(dx);
  cudaFree(dp);
  cudaFree(dids);
  return ok;
}

int main() {
  std::mt19937 rng(11);
  bool ok = true;
  for (int64_t columns : {128256, 1000}) {
    ok = runWidth<float>(columns, rng) && ok;
    ok = runWidth<kuai_f16>(columns, rng) && ok;
    ok = runWidth<kuai_bf16>(columns, rng) && ok;
  }
  std::printf("sampling check: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
