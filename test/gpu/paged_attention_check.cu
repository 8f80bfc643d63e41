// On the GPU machine: the decode kernels of templates/paged_attention.cu
// against a host reference in double precision. Random queries, keys and
// values in shuffled pages; sequences of several lengths (one empty, one
// spanning many splits); MHA, GQA with 4 and 12 query heads per key head,
// MQA; head dims that are and are not multiples of the 16-byte vector;
// causal and sliding-window; pages of 16 and 128 positions; f32, f16 and
// bf16. Checks kuai_paged_attention_split + _combine (decode) and
// kuai_paged_attention (the row kernel, one query per sequence here) to a
// relative L2 of 1e-5 (f32), 1e-3 (f16) or 6e-3 (bf16), and kuai_argmax on
// rows with ties. Prints one line per case and exits 1 on any failure.
//
//   nvcc -O2 -arch=sm_90 -std=c++17 -Ilib/Codegen/templates \
//     test/gpu/paged_attention_check.cu -o build-gpu/paged_attention_check
#include "paged_attention.cu"

#include "check_common.cuh"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

template <typename T> struct Kernels;
#define KUAI_CHECK_KERNELS(T, SUFFIX)                                          \
  template <> struct Kernels<T> {                                              \
    static constexpr auto split = kuai_paged_attention_split_##SUFFIX;         \
    static constexpr auto combine = kuai_paged_attention_combine_##SUFFIX;     \
    static constexpr auto rows = kuai_paged_attention_##SUFFIX;                \
    static constexpr auto argmax = kuai_argmax_##SUFFIX;                       \
  };
KUAI_CHECK_KERNELS(float, f32)
KUAI_CHECK_KERNELS(kuai_f16, f16)
KUAI_CHECK_KERNELS(kuai_bf16, bf16)

struct Case {
  int qHeads, kvHeads, d, dv, page, window;
};

template <typename T> static T *upload(const std::vector<T> &v) {
  T *p;
  CHECK_CUDA(cudaMalloc(&p, v.size() * sizeof(T) + 16));
  CHECK_CUDA(
      cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

template <typename T> static float toFloat(T v) {
  if constexpr (sizeof(T) == 4)
    return v;
  else if constexpr (T::is_bf16)
    return bf16ToFloat(v.bits);
  else
    return halfToFloat(v.bits);
}

// Relative L2 of got against want.
static double relL2(const std::vector<double> &want,
                    const std::vector<double> &got) {
  double num = 0, den = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    num += (got[i] - want[i]) * (got[i] - want[i]);
    den += want[i] * want[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

template <typename T> static bool runCase(const Case &c, std::mt19937 &rng) {
  const int batch = 4, blocks = 40;
  const std::vector<int> past = {
      0, 37, 300, blocks * c.page - 1 > 1000 ? 1000 : blocks * c.page - 1};
  const int pages = batch * blocks;
  std::uniform_real_distribution<float> uni(-1.f, 1.f);
  auto fill = [&](size_t n, std::vector<T> &dev, std::vector<float> &host) {
    dev.resize(n);
    host.resize(n);
    for (size_t i = 0; i < n; ++i)
      dev[i] = Store<T>::make(uni(rng), host[i]);
  };
  std::vector<T> q, kc, vc;
  std::vector<float> qh, kh, vh;
  fill(size_t(batch) * c.qHeads * c.d, q, qh);
  fill(size_t(pages) * c.kvHeads * c.page * c.d, kc, kh);
  fill(size_t(pages) * c.kvHeads * c.page * c.dv, vc, vh);
  std::vector<int> table(pages);
  for (int i = 0; i < pages; ++i)
    table[i] = i;
  std::shuffle(table.begin(), table.end(), rng);
  const float scale = 1.f / std::sqrt(float(c.d));

  // Reference: each (b, h) attends over positions [begin, past[b]].
  std::vector<double> want(size_t(batch) * c.qHeads * c.dv);
  for (int b = 0; b < batch; ++b)
    for (int h = 0; h < c.qHeads; ++h) {
      int hk = h / (c.qHeads / c.kvHeads), last = past[b];
      int begin = c.window > 0 ? std::max(0, last - c.window + 1) : 0;
      std::vector<double> scores;
      double big = -1e300;
      for (int t = begin; t <= last; ++t) {
        size_t row =
            (size_t(table[b * blocks + t / c.page]) * c.kvHeads + hk) * c.page +
            t % c.page;
        double dot = 0;
        for (int i = 0; i < c.d; ++i)
          dot += double(qh[(size_t(b) * c.qHeads + h) * c.d + i]) * scale *
                 kh[row * c.d + i];
        scores.push_back(dot);
        big = std::max(big, dot);
      }
      double sum = 0;
      for (double &s : scores)
        sum += (s = std::exp(s - big));
      for (int t = begin; t <= last; ++t) {
        size_t row =
            (size_t(table[b * blocks + t / c.page]) * c.kvHeads + hk) * c.page +
            t % c.page;
        for (int i = 0; i < c.dv; ++i)
          want[(size_t(b) * c.qHeads + h) * c.dv + i] +=
              scores[t - begin] / sum * vh[row * c.dv + i];
      }
    }

  PagedShape s{};
  s.batch = batch;
  s.q_heads = c.qHeads;
  s.kv_heads = c.kvHeads;
  s.q_len = 1;
  s.d = c.d;
  s.dv = c.dv;
  s.page = c.page;
  s.blocks = blocks;
  i64 qs[3] = {i64(c.qHeads) * c.d, c.d, c.d};
  i64 os[3] = {i64(c.qHeads) * c.dv, c.dv, c.dv};
  for (int i = 0; i < 3; ++i) {
    s.q_stride[i] = qs[i];
    s.o_stride[i] = os[i];
    s.k_stride[i] = qs[i]; // unused by these kernels
    s.v_stride[i] = os[i];
  }
  s.window = c.window;

  T *dq = upload(q), *dk = upload(kc), *dv = upload(vc);
  int *dt = upload(table), *dp = upload(past);
  T *dout;
  size_t outN = want.size();
  CHECK_CUDA(cudaMalloc(&dout, outN * sizeof(T)));
  // The launch geometry of LowerToKernels.cpp.
  i64 pagesPerSplit = std::max(1, 32 / c.page);
  i64 splits = (blocks + pagesPerSplit - 1) / pagesPerSplit;
  i64 rows = i64(batch) * c.qHeads;
  float *ws;
  CHECK_CUDA(cudaMalloc(&ws, size_t(blocks) * rows * (c.dv + 2) * 4));
  int headChunks = (c.qHeads / c.kvHeads + 7) / 8;
  dim3 grid(unsigned(batch * c.kvHeads * headChunks), unsigned(splits));
  Kernels<T>::split<<<grid, PAGED_SPLIT_THREADS>>>(dq, dk, dv, dt, dp, ws, s,
                                                   scale, pagesPerSplit);
  Kernels<T>::combine<<<unsigned((rows + 3) / 4), 128>>>(ws, dout, s,
                                                         pagesPerSplit);
  CHECK_CUDA(cudaGetLastError());
  std::vector<T> got(outN);
  CHECK_CUDA(
      cudaMemcpy(got.data(), dout, outN * sizeof(T), cudaMemcpyDeviceToHost));
  std::vector<double> gotSplit(outN), gotRows(outN);
  for (size_t i = 0; i < outN; ++i)
    gotSplit[i] = toFloat(got[i]);
  // The row kernel on the same decode step.
  CHECK_CUDA(cudaMemset(dout, 0, outN * sizeof(T)));
  Kernels<T>::rows<<<unsigned((rows + 3) / 4), 128>>>(dq, dk, dv, dt, dp, dout,
                                                      s, scale);
  CHECK_CUDA(cudaGetLastError());
  CHECK_CUDA(
      cudaMemcpy(got.data(), dout, outN * sizeof(T), cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < outN; ++i)
    gotRows[i] = toFloat(got[i]);
  // Sequence 0 attends to position 0 only: its output is that value row;
  // the relative error over all rows is what is bounded.
  // Tolerances: fp32 accumulation error; the output's own rounding (half:
  // 2^-11, bfloat16: 2^-8 relative) dominates for the 16-bit types.
  double tol = sizeof(T) == 4 ? 1e-5 : Store<T>::name()[0] == 'f' ? 1e-3 : 6e-3;
  double eSplit = relL2(want, gotSplit), eRows = relL2(want, gotRows);
  bool ok = eSplit <= tol && eRows <= tol;
  std::printf("%s %-4s heads %2d/%d d %3d dv %3d page %3d window %2d: split "
              "%.2e rows %.2e (tol %.0e)\n",
              ok ? "ok  " : "FAIL", Store<T>::name(), c.qHeads, c.kvHeads, c.d,
              c.dv, c.page, c.window, eSplit, eRows, tol);
  cudaFree(dq);
  cudaFree(dk);
  cudaFree(dv);
  cudaFree(dt);
  cudaFree(dp);
  cudaFree(dout);
  cudaFree(ws);
  return ok;
}

// Rows of a vocabulary-sized width (and a width that is not a multiple of
// the vector) with planted maxima, some tied: the lowest index must win.
template <typename T> static bool runArgmax(std::mt19937 &rng) {
  bool ok = true;
  for (int columns : {128256, 1001}) {
    const int rowsN = 5;
    std::vector<T> x(size_t(rowsN) * columns);
    std::vector<int> want(rowsN);
    std::uniform_real_distribution<float> uni(-1.f, 1.f);
    float back;
    for (auto &v : x)
      v = Store<T>::make(uni(rng), back);
    for (int r = 0; r < rowsN; ++r) {
      int a = int(rng() % columns), b2 = int(rng() % columns);
      if (r == 0)
        a = columns - 1; // the last column
      if (r == 1)
        b2 = a; // a single maximum
      x[size_t(r) * columns + a] = Store<T>::make(1.5f, back);
      x[size_t(r) * columns + b2] = Store<T>::make(1.5f, back);
      want[r] = std::min(a, b2);
    }
    T *dx = upload(x);
    int *ids;
    CHECK_CUDA(cudaMalloc(&ids, rowsN * sizeof(int)));
    Kernels<T>::argmax<<<rowsN, ARGMAX_THREADS>>>(dx, ids, columns);
    CHECK_CUDA(cudaGetLastError());
    std::vector<int> got(rowsN);
    CHECK_CUDA(cudaMemcpy(got.data(), ids, rowsN * sizeof(int),
                          cudaMemcpyDeviceToHost));
    bool same = got == want;
    ok = ok && same;
    std::printf("%s %-4s argmax %d rows x %d columns\n", same ? "ok  " : "FAIL",
                Store<T>::name(), rowsN, columns);
    cudaFree(dx);
    cudaFree(ids);
  }
  return ok;
}

int main() {
  std::mt19937 rng(7);
  const Case cases[] = {
      {8, 2, 32, 32, 16, 0},    // tiny-llama: GQA 4
      {32, 8, 64, 64, 16, 0},   // Llama-3.2-1B
      {32, 8, 128, 128, 16, 0}, // Llama-3-8B
      {4, 4, 80, 80, 16, 0},    // MHA, head dim 80
      {12, 1, 256, 256, 16, 0}, // MQA, 12 heads: two chunks of the group
      {4, 2, 20, 12, 16, 0},    // dims off the vector: element loads
      {8, 2, 64, 64, 16, 50},   // sliding window
      {8, 2, 64, 64, 128, 0},   // 128-position pages: two tiles per split
  };
  bool ok = true;
  for (const Case &c : cases) {
    ok = runCase<float>(c, rng) && ok;
    ok = runCase<kuai_f16>(c, rng) && ok;
    ok = runCase<kuai_bf16>(c, rng) && ok;
  }
  ok = runArgmax<float>(rng) && ok;
  ok = runArgmax<kuai_f16>(rng) && ok;
  ok = runArgmax<kuai_bf16>(rng) && ok;
  std::printf("paged attention check: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
