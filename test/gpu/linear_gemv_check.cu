// On the GPU machine: the decode linears of templates/linear_gemv.cu.
//
// Check: kuai_linear_gemv1 (one row) and the tensor-core kuai_linear_gemv8,
// 16 and 32 (up to that many rows) against a host linear in double
// precision on the same f16/bf16 values, y = SiLU(x · Wᵀ + bias) +
// residual, both output types, at row counts across each kernel's range,
// N not a multiple of the 16-row tile and K not a multiple of the 32 a
// warp step covers. Tolerance: 1e-2 relative to |y| + 1 for 16-bit
// output (2^-8 of bf16 rounding and fp32 sums), 1e-4 for fp32 output.
//
// Timing (no assertions): the linears of a decode step of the Llama-3.2-1B
// and Llama-3-8B shapes (bf16, no epilogue) at 1, 8, 16 and 32 rows, each
// next to cuBLAS (cublasGemmEx, bf16 in, fp32 compute) on the same
// buffers, in the same run. W cycles through copies that together exceed
// L2, so every launch reads W from device memory as a decode step does.
// Then the tensor-core kernel at other unrolls than the one kuai-compile
// uses (GEMV_MMA_UNROLL), on the shapes where it trails cuBLAS, to choose
// the unroll by measurement. Prints markdown; exits 1 on any check failure.
//
//   nvcc -O2 -arch=sm_90 -std=c++17 -Ilib/Codegen/templates \
//     test/gpu/linear_gemv_check.cu -lcublas -o build-gpu/linear_gemv_check
#include "linear_gemv.cu"

#include "check_common.cuh"

#include <algorithm>
#include <cublas_v2.h>
#include <random>
#include <string>
#include <vector>

using Linear = void (*)(const void *, const void *, const void *, const void *,
                        void *, i64, i64, i64, int);

template <typename T, typename TO> struct Kernels;
#define KUAI_CHECK_KERNELS(T, TO, SUFFIX)                                      \
  template <> struct Kernels<T, TO> {                                          \
    static Linear pick(int rows) {                                             \
      switch (rows) {                                                          \
      case 1:                                                                  \
        return (Linear)kuai_linear_gemv1_##SUFFIX;                             \
      case 8:                                                                  \
        return (Linear)kuai_linear_gemv8_##SUFFIX;                             \
      case 16:                                                                 \
        return (Linear)kuai_linear_gemv16_##SUFFIX;                            \
      default:                                                                 \
        return (Linear)kuai_linear_gemv32_##SUFFIX;                            \
      }                                                                        \
    }                                                                          \
  };
KUAI_CHECK_KERNELS(kuai_f16, kuai_f16, f16)
KUAI_CHECK_KERNELS(kuai_f16, float, f16_out_f32)
KUAI_CHECK_KERNELS(kuai_bf16, kuai_bf16, bf16)
KUAI_CHECK_KERNELS(kuai_bf16, float, bf16_out_f32)

// The kernel kuai-compile picks for M rows (addSmallRowVariants) and its
// grid: one row a warp per W row, more 16 W rows per block.
static int kernelRows(i64 m) {
  return m == 1 ? 1 : m <= 8 ? 8 : m <= 16 ? 16 : 32;
}
static void launch(Linear k, int rows, const void *x, const void *w,
                   const void *bias, const void *residual, void *y, i64 M,
                   i64 N, i64 K, int act) {
  unsigned blocks = unsigned(rows == 1 ? (N + 7) / 8 : (N + 15) / 16);
  void *args[] = {&x, &w, &bias, &residual, &y, &M, &N, &K, &act};
  CHECK_CUDA(cudaLaunchKernel((const void *)k, dim3(blocks), dim3(256), args, 0,
                              nullptr));
}

template <typename T> static float outValue(T v) {
  return T::is_bf16 ? bf16ToFloat(v.bits) : halfToFloat(v.bits);
}
static float outValue(float v) { return v; }

template <typename T, typename TO>
static bool check(i64 M, i64 N, i64 K, std::mt19937 &rng) {
  std::normal_distribution<float> noise(0.f, 1.f);
  auto make = [&](i64 count, std::vector<T> &bits, std::vector<double> &vals) {
    for (i64 i = 0; i < count; ++i) {
      float back;
      bits.push_back(Store<T>::make(noise(rng), back));
      vals.push_back(back);
    }
  };
  std::vector<T> x, w, bias;
  std::vector<double> xv, wv, bv, rv;
  make(M * K, x, xv);
  make(N * K, w, wv);
  make(N, bias, bv);
  std::vector<TO> residual;
  for (i64 i = 0; i < M * N; ++i) {
    float back;
    residual.push_back(Store<TO>::make(noise(rng), back));
    rv.push_back(back);
  }
  void *d[5];
  size_t sizes[5] = {x.size() * sizeof(T), w.size() * sizeof(T),
                     bias.size() * sizeof(T), residual.size() * sizeof(TO),
                     size_t(M * N) * sizeof(TO)};
  const void *host[4] = {x.data(), w.data(), bias.data(), residual.data()};
  for (int i = 0; i < 5; ++i) {
    CHECK_CUDA(cudaMalloc(&d[i], sizes[i]));
    if (i < 4)
      CHECK_CUDA(cudaMemcpy(d[i], host[i], sizes[i], cudaMemcpyHostToDevice));
  }
  const int rows = kernelRows(M);
  launch(Kernels<T, TO>::pick(rows), rows, d[0], d[1], d[2], d[3], d[4], M, N,
         K, /*SiLU*/ 3);
  CHECK_CUDA(cudaDeviceSynchronize());
  std::vector<TO> y(size_t(M * N));
  CHECK_CUDA(cudaMemcpy(y.data(), d[4], sizes[4], cudaMemcpyDeviceToHost));
  for (void *p : d)
    CHECK_CUDA(cudaFree(p));
  double worst = 0;
  const double tol = sizeof(TO) == 4 ? 1e-4 : 1e-2;
  for (i64 m = 0; m < M; ++m)
    for (i64 n = 0; n < N; ++n) {
      double dot = bv[n];
      for (i64 k = 0; k < K; ++k)
        dot += xv[m * K + k] * wv[n * K + k];
      double want = dot / (1 + std::exp(-dot)) + rv[m * N + n];
      double err =
          std::fabs(outValue(y[m * N + n]) - want) / (std::fabs(want) + 1);
      worst = std::max(worst, err);
    }
  bool ok = worst <= tol;
  std::printf("%s  %-5s -> %-4s gemv%-2d M %2lld N %3lld K %4lld: worst error "
              "%.2e (tol %.0e)\n",
              ok ? "ok  " : "FAIL", Store<T>::name(),
              sizeof(TO) == 4 ? "f32" : Store<T>::name(), rows, M, N, K, worst,
              tol);
  return ok;
}

struct Shape {
  const char *name;
  i64 n, k;
};

static void bench() {
  const Shape shapes[] = {
      {"1B q/o", 2048, 2048},       {"1B k/v", 512, 2048},
      {"1B gate/up", 8192, 2048},   {"1B down", 2048, 8192},
      {"1B lm head", 128256, 2048}, {"8B q/o", 4096, 4096},
      {"8B k/v", 1024, 4096},       {"8B gate/up", 14336, 4096},
      {"8B down", 4096, 14336},     {"8B lm head", 128256, 4096}};
  cublasHandle_t handle;
  if (cublasCreate(&handle) != CUBLAS_STATUS_SUCCESS) {
    std::printf("cuBLAS did not start\n");
    std::exit(2);
  }
  std::printf("\n| linear (bf16) | N x K | rows | kuai kernel | kuai us | kuai "
              "GB/s | cuBLAS us | cuBLAS GB/s | kuai / cuBLAS time |\n"
              "| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  void *x, *y;
  CHECK_CUDA(cudaMalloc(&x, 32 * 14336 * 2));
  CHECK_CUDA(cudaMemset(x, 0x3c, 32 * 14336 * 2)); // 0x3c3c: 0.0115
  CHECK_CUDA(cudaMalloc(&y, 32 * 128256 * 2));
  for (const Shape &s : shapes) {
    const size_t wBytes = size_t(s.n * s.k) * 2;
    // Copies of W that together exceed 4 x 50 MB of L2.
    const int copies = int(std::max<size_t>(1, (200u << 20) / wBytes + 1));
    void *w;
    CHECK_CUDA(cudaMalloc(&w, wBytes * copies));
    CHECK_CUDA(cudaMemset(w, 0x3c, wBytes * copies));
    auto wAt = [&](int i) { return (char *)w + wBytes * (i % copies); };
    for (i64 m : {1, 8, 16, 32}) {
      const int rows = kernelRows(m);
      Linear k = Kernels<kuai_bf16, kuai_bf16>::pick(rows);
      const int launches = std::max(20, 2 * copies);
      double kuai = timeLaunches(
          [&](int i) {
            launch(k, rows, x, wAt(i), nullptr, nullptr, y, m, s.n, s.k, 0);
          },
          launches);
      // y (m x n, row-major) = x (m x k) · Wᵀ: in cuBLAS's column-major
      // terms yᵀ (n x m) = W (k x n, transposed) · xᵀ (k x m).
      const float one = 1.f, zero = 0.f;
      double cublas = timeLaunches(
          [&](int i) {
            cublasStatus_t st =
                cublasGemmEx(handle, CUBLAS_OP_T, CUBLAS_OP_N, int(s.n), int(m),
                             int(s.k), &one, wAt(i), CUDA_R_16BF, int(s.k), x,
                             CUDA_R_16BF, int(s.k), &zero, y, CUDA_R_16BF,
                             int(s.n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            if (st != CUBLAS_STATUS_SUCCESS) {
              std::printf("cublasGemmEx failed (%d)\n", int(st));
              std::exit(2);
            }
          },
          launches);
      const double bytes = double(wBytes) + 2.0 * m * (s.k + s.n);
      std::printf("| %s | %lld x %lld | %lld | gemv%d | %.1f | %.0f | %.1f | "
                  "%.0f | %.2f |\n",
                  s.name, s.n, s.k, m, rows, kuai, bytes / kuai / 1e3, cublas,
                  bytes / cublas / 1e3, kuai / cublas);
    }
    CHECK_CUDA(cudaFree(w));
  }
  CHECK_CUDA(cudaFree(x));
  CHECK_CUDA(cudaFree(y));
  cublasDestroy(handle);
}

template <int NT, int UNROLL>
__global__ void __launch_bounds__(GEMV_WARPS * 32)
    mmaUnrolled(const kuai_bf16 *x, const kuai_bf16 *w, kuai_bf16 *y, i64 M,
                i64 N, i64 K) {
  linear_gemv_mma<kuai_bf16, kuai_bf16, NT, UNROLL>(x, w, nullptr, nullptr, y,
                                                    M, N, K, 0);
}

static void benchUnrolls() {
  using Kernel = void (*)(const kuai_bf16 *, const kuai_bf16 *, kuai_bf16 *,
                          i64, i64, i64);
  struct Variant {
    int rows, unroll;
    Kernel kernel;
  };
  const Variant variants[] = {
      {8, 2, mmaUnrolled<1, 2>},  {8, 4, mmaUnrolled<1, 4>},
      {8, 8, mmaUnrolled<1, 8>},  {16, 4, mmaUnrolled<2, 4>},
      {16, 8, mmaUnrolled<2, 8>}, {32, 2, mmaUnrolled<4, 2>},
      {32, 4, mmaUnrolled<4, 4>}};
  const Shape shapes[] = {{"1B q/o", 2048, 2048},
                          {"1B down", 2048, 8192},
                          {"8B gate/up", 14336, 4096},
                          {"8B down", 4096, 14336}};
  std::printf("\n| linear (bf16) | rows | unroll | us | GB/s |\n"
              "| --- | --- | --- | --- | --- |\n");
  kuai_bf16 *x, *y, *w;
  CHECK_CUDA(cudaMalloc(&x, 32 * 14336 * 2));
  CHECK_CUDA(cudaMemset(x, 0x3c, 32 * 14336 * 2));
  CHECK_CUDA(cudaMalloc(&y, 32 * 14336 * 2));
  for (const Shape &s : shapes) {
    const size_t wBytes = size_t(s.n * s.k) * 2;
    const int copies = int(std::max<size_t>(1, (200u << 20) / wBytes + 1));
    CHECK_CUDA(cudaMalloc(&w, wBytes * copies));
    CHECK_CUDA(cudaMemset(w, 0x3c, wBytes * copies));
    for (const Variant &v : variants) {
      double us = timeLaunches(
          [&](int i) {
            v.kernel<<<unsigned((s.n + 15) / 16), 256>>>(
                x, w + (i % copies) * s.n * s.k, y, v.rows, s.n, s.k);
          },
          std::max(20, 2 * copies));
      CHECK_CUDA(cudaGetLastError());
      const double bytes = double(wBytes) + 2.0 * v.rows * (s.k + s.n);
      std::printf("| %s | %d | %d | %.1f | %.0f |\n", s.name, v.rows, v.unroll,
                  us, bytes / us / 1e3);
    }
    CHECK_CUDA(cudaFree(w));
  }
  CHECK_CUDA(cudaFree(x));
  CHECK_CUDA(cudaFree(y));
}

int main(int argc, char **argv) {
  std::mt19937 rng(7);
  bool ok = true;
  for (i64 m : {1, 2, 5, 8, 9, 16, 17, 31, 32}) {
    // N: a partial 16-row tile; K/8 = 37 chunks, not a multiple of a step.
    ok &= check<kuai_bf16, kuai_bf16>(m, 40, 296, rng);
    ok &= check<kuai_f16, kuai_f16>(m, 40, 296, rng);
  }
  // K = 14336: every warp takes several steps (the decode shapes' K).
  for (i64 m : {8, 16})
    ok &= check<kuai_bf16, kuai_bf16>(m, 48, 14336, rng);
  for (i64 m : {1, 8, 32}) {
    ok &= check<kuai_bf16, float>(m, 72, 2048, rng);
    ok &= check<kuai_f16, float>(m, 72, 2048, rng);
    ok &= check<kuai_bf16, kuai_bf16>(m, 4096, 1024, rng);
  }
  std::printf("linear GEMV check: %s\n", ok ? "PASS" : "FAIL");
  if (argc < 2 || std::string(argv[1]) != "--no-bench") {
    bench();
    benchUnrolls();
  }
  return ok ? 0 : 1;
}
