// GEMM benchmark of kuai's Hopper linear template (lib/Codegen/templates/
// linear_wgmma.cu) next to cuBLAS in the same process, on the GPU machine.
//
// The template is compiled with NVRTC exactly as kuai-compile does
// (compute_90a) and launched through the driver API with the tensor maps
// the runtime encodes. cuBLAS (cublasGemmEx, fp16 in, fp32 compute, fp16
// out) is the peer; its output is also the reference for each timed shape
// (relative L2, NaN-poisoned output). A second part checks odd shapes with
// bias, activation and residual, fp16/bf16 and fp32 output, against a
// double-precision host reference.
//
//   nvcc -O2 -o gemm_wgmma_bench bench/gemm_wgmma_bench.cpp -lcuda -lcublas
//   -lnvrtc
//   ./gemm_wgmma_bench lib/Codegen/templates [commit] > gemm.md
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <cublas_v2.h>
#include <cuda.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <fstream>
#include <nvrtc.h>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#define CHECK_CU(x)                                                            \
  do {                                                                         \
    CUresult r_ = (x);                                                         \
    if (r_ != CUDA_SUCCESS) {                                                  \
      const char *s_;                                                          \
      cuGetErrorString(r_, &s_);                                               \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x, s_);      \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)
#define CHECK_RT(x)                                                            \
  do {                                                                         \
    cudaError_t r_ = (x);                                                      \
    if (r_ != cudaSuccess) {                                                   \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #x,           \
                   cudaGetErrorString(r_));                                    \
      std::exit(1);                                                            \
    }                                                                          \
  } while (0)

static std::string readFile(const std::string &path) {
  std::ifstream f(path);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

static CUmodule compileTemplates(const std::string &dir) {
  const char *files[] = {"linear_wgmma.cu", "kuai_wgmma.cuh",
                         "kuai_epilogue.cuh", "kuai_mma.cuh", "kuai_types.cuh"};
  std::vector<std::string> text;
  std::vector<const char *> heads, names;
  for (const char *f : files)
    text.push_back(readFile(dir + "/" + f));
  for (size_t i = 0; i < text.size(); ++i) {
    heads.push_back(text[i].c_str());
    names.push_back(files[i]);
  }
  nvrtcProgram prog;
  nvrtcCreateProgram(&prog, "#include \"linear_wgmma.cu\"\n", "bench.cu",
                     int(heads.size()), heads.data(), names.data());
  const char *opts[] = {"--gpu-architecture=compute_90a",
                        "--std=c++17",
                        "-default-device",
                        "-DKUAI_WITH_F16",
                        "-DKUAI_WITH_BF16",
                        "-DKUAI_BENCH_INSTANCES"};
  nvrtcResult r = nvrtcCompileProgram(prog, 6, opts);
  size_t logSize;
  nvrtcGetProgramLogSize(prog, &logSize);
  std::string log(logSize, '\0');
  nvrtcGetProgramLog(prog, log.data());
  if (r != NVRTC_SUCCESS) {
    std::fprintf(stderr, "NVRTC: %s\n", log.c_str());
    std::exit(1);
  }
  size_t size;
  nvrtcGetPTXSize(prog, &size);
  std::string ptx(size, '\0');
  nvrtcGetPTX(prog, ptx.data());
  CUmodule mod;
  char err[8192] = {0};
  CUjit_option o[] = {CU_JIT_ERROR_LOG_BUFFER,
                      CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *v[] = {err, (void *)(size_t)sizeof(err)};
  if (cuModuleLoadDataEx(&mod, ptx.c_str(), 2, o, v) != CUDA_SUCCESS) {
    std::fprintf(stderr, "PTX load failed: %s\n", err);
    std::exit(1);
  }
  return mod;
}

/// The runtime's encoding (runtime/src/Runtime.cpp): [rows, cols] row-major
/// 16-bit matrix, 64-column boxes of `boxRows` rows, 128-byte swizzle.
static CUtensorMap encode(const void *p, bool bf16, uint64_t rows,
                          uint64_t cols, uint32_t boxRows) {
  CUtensorMap map;
  cuuint64_t dims[2] = {cols, rows}, strides[1] = {cols * 2};
  cuuint32_t box[2] = {64, boxRows}, elem[2] = {1, 1};
  CHECK_CU(cuTensorMapEncodeTiled(
      &map,
      bf16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16 : CU_TENSOR_MAP_DATA_TYPE_FLOAT16,
      2, const_cast<void *>(p), dims, strides, box, elem,
      CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
      CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE));
  return map;
}

static int smCount = 132; // set from the device in main

struct Variant {
  const char *name;
  int bn, stages;
  CUfunction f;
  int splits = 1;          // blocks of a cluster splitting K (the grid's z)
  bool persistent = false; // one block an SM (or fewer) walking the tiles
  int extraSmem = 0;       // bytes beyond the ring, alignment and barriers
  int smem() const {
    return stages * (128 + bn) * 64 * 2 + 1024 + 16 * stages + extraSmem;
  }
};

static void launch(const Variant &v, bool bf16, const void *x, const void *w,
                   const void *bias, const void *res, void *y, long long M,
                   long long N, long long K, int act) {
  CUtensorMap mx = encode(x, bf16, M, K, 128), mw = encode(w, bf16, N, K, v.bn);
  int a = act;
  void *params[] = {&mx, &mw, &bias, &res, &y, &M, &N, &K, &a};
  unsigned gx = unsigned((N + v.bn - 1) / v.bn), gy = unsigned((M + 127) / 128);
  if (v.persistent) // a block an SM, as the lowering asks: some may idle
    gx = unsigned(smCount), gy = 1;
  CHECK_CU(cuLaunchKernel(v.f, gx, gy, unsigned(v.splits), 384, 1, 1, v.smem(),
                          0, params, nullptr));
}

/// Median time of `fn` over `iters` launches, each between two events;
/// `before` runs before each first event (untimed).
template <typename F, typename G>
static double medianMs(F fn, G before, int iters = 50) {
  for (int i = 0; i < 5; ++i)
    fn();
  CHECK_RT(cudaDeviceSynchronize());
  std::vector<float> t;
  cudaEvent_t a, b;
  cudaEventCreate(&a);
  cudaEventCreate(&b);
  for (int i = 0; i < iters; ++i) {
    before();
    cudaEventRecord(a);
    fn();
    cudaEventRecord(b);
    CHECK_RT(cudaEventSynchronize(b));
    float ms;
    cudaEventElapsedTime(&ms, a, b);
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}
template <typename F> static double medianMs(F fn, int iters = 50) {
  return medianMs(
      fn, [] {}, iters);
}

static float h2f(uint16_t h, bool bf16) {
  if (bf16) {
    uint32_t u = uint32_t(h) << 16;
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  __half x;
  std::memcpy(&x, &h, 2);
  return __half2float(x);
}
static uint16_t f2h(float f, bool bf16) {
  uint16_t h;
  if (bf16) {
    __nv_bfloat16 b = __float2bfloat16(f);
    std::memcpy(&h, &b, 2);
  } else {
    __half x = __float2half(f);
    std::memcpy(&h, &x, 2);
  }
  return h;
}

static std::vector<uint16_t> randomHalf(size_t n, float scale, bool bf16,
                                        std::mt19937 &g) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<uint16_t> v(n);
  for (auto &x : v)
    x = f2h(d(g), bf16);
  return v;
}

template <typename T> static T *upload(const std::vector<T> &v) {
  T *p;
  CHECK_RT(cudaMalloc(&p, v.size() * sizeof(T)));
  CHECK_RT(
      cudaMemcpy(p, v.data(), v.size() * sizeof(T), cudaMemcpyHostToDevice));
  return p;
}

static double act(double x, int a) {
  switch (a) {
  case 1:
    return 0.5 * x * (1 + std::erf(x / std::sqrt(2.0)));
  case 2:
    return 0.5 * x * (1 + std::tanh(0.7978845608 * (x + 0.044715 * x * x * x)));
  case 3:
    return x / (1 + std::exp(-x));
  case 4:
    return std::max(x, 0.0);
  }
  return x;
}

/// Odd shapes with the whole epilogue against a double host reference.
static int checkEpilogues(std::vector<Variant> &vars16,
                          std::vector<Variant> &vars16f32,
                          std::vector<Variant> &varsbf,
                          std::vector<Variant> &varsbff32) {
  std::mt19937 g(7);
  struct Case {
    long long M, N, K;
    int act;
    bool bias, res;
  };
  // K = 72 and 200 leave some blocks of an 8-block split without k-tiles.
  Case cases[] = {{77, 200, 72, 1, true, true},
                  {1, 64, 64, 0, false, false},
                  {300, 130, 200, 3, true, false},
                  {129, 257, 136, 2, false, true},
                  {129, 258, 136, 2, false, true},
                  {129, 258, 136, 0, true, true}, // ping-pong: no activation
                  {256, 512, 1024, 4, true, true},
                  {512, 768, 3072, 0, true, true},
                  // 9 x 16 tiles of 128x128 (more than the 132 SMs: some
                  // persistent blocks take two) of 5 k-tiles each (the
                  // 6-stage ring's rounds wrap across a consumer's tiles),
                  // ragged M, N and K; no activation, as the ping-pong tile
                  // is given.
                  {1100, 1960, 264, 0, true, true},
                  // 16 x 19 = 304 tiles: persistent blocks with two or
                  // three, so a consumer reuses its tile state (bias slot)
                  // for tile 2; ragged N.
                  {2048, 2306, 72, 0, true, true},
                  // The residual staged in shared memory (128x192 and 128x128
                  // tiles) with a last row tile of fewer than 64 rows (the
                  // second consumer copies nothing), and 16-bit rows of N % 8
                  // == 4 (not staged: one 8-byte residual load a group).
                  {170, 200, 72, 1, true, true},
                  {129, 196, 136, 0, true, true}};
  int failures = 0;
  std::printf("\n## Epilogue and boundary checks (double-precision host "
              "reference)\n\n");
  std::printf(
      "| kernel | M | N | K | act | bias | residual | rel. L2 | unwritten |\n");
  std::printf("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
  for (int dt = 0; dt < 2; ++dt) {
    bool bf16 = dt == 1;
    for (int of = 0; of < 2; ++of) {
      bool f32out = of == 1;
      auto &vars =
          bf16 ? (f32out ? varsbff32 : varsbf) : (f32out ? vars16f32 : vars16);
      for (const Case &c : cases) {
        auto x = randomHalf(c.M * c.K, 1.f, bf16, g);
        auto w = randomHalf(c.N * c.K, 1.f / std::sqrt(float(c.K)), bf16, g);
        auto b = randomHalf(c.N, 0.5f, bf16, g);
        std::vector<float> resF(c.M * c.N);
        std::normal_distribution<float> nd;
        for (auto &r : resF)
          r = f32out ? nd(g) : h2f(f2h(nd(g), bf16), bf16);
        std::vector<uint16_t> resH(resF.size());
        for (size_t i = 0; i < resF.size(); ++i)
          resH[i] = f2h(resF[i], bf16);
        std::vector<double> ref(c.M * c.N);
        for (long long i = 0; i < c.M; ++i)
          for (long long j = 0; j < c.N; ++j) {
            double s = 0;
            for (long long k = 0; k < c.K; ++k)
              s +=
                  double(h2f(x[i * c.K + k], bf16)) * h2f(w[j * c.K + k], bf16);
            if (c.bias)
              s += h2f(b[j], bf16);
            s = act(s, c.act);
            if (c.res)
              s += resF[i * c.N + j];
            ref[i * c.N + j] = s;
          }
        auto *dx = upload(x), *dw = upload(w), *db = upload(b);
        void *dres = f32out ? (void *)upload(resF) : (void *)upload(resH);
        size_t ybytes = c.M * c.N * (f32out ? 4 : 2);
        void *dy;
        CHECK_RT(cudaMalloc(&dy, ybytes));
        for (const Variant &v : vars) {
          // The ping-pong instance stores column pairs (even N) and has no
          // activation; the lowering gives it neither.
          if (v.persistent && (c.N % 2 || c.act))
            continue;
          CHECK_RT(cudaMemset(dy, 0xFF, ybytes)); // NaN in every format
          launch(v, bf16, dx, dw, c.bias ? db : nullptr, c.res ? dres : nullptr,
                 dy, c.M, c.N, c.K, c.act);
          CHECK_RT(cudaDeviceSynchronize());
          std::vector<unsigned char> out(ybytes);
          CHECK_RT(cudaMemcpy(out.data(), dy, ybytes, cudaMemcpyDeviceToHost));
          double num = 0, den = 0;
          long long nan = 0;
          for (long long i = 0; i < c.M * c.N; ++i) {
            double o;
            if (f32out) {
              float f;
              std::memcpy(&f, out.data() + 4 * i, 4);
              o = f;
            } else {
              uint16_t h;
              std::memcpy(&h, out.data() + 2 * i, 2);
              o = h2f(h, bf16);
            }
            if (std::isnan(o)) {
              ++nan;
              continue;
            }
            num += (o - ref[i]) * (o - ref[i]);
            den += ref[i] * ref[i];
          }
          double err = std::sqrt(num / den);
          bool ok = nan == 0 && err < (bf16 ? 1e-2 : 2e-3);
          failures += !ok;
          std::printf(
              "| %s | %lld | %lld | %lld | %d | %s | %s | %.1e | %lld%s |\n",
              v.name, c.M, c.N, c.K, c.act, c.bias ? "yes" : "no",
              c.res ? "yes" : "no", err, nan, ok ? "" : " **FAIL**");
        }
        cudaFree(dx), cudaFree(dw), cudaFree(db), cudaFree(dres), cudaFree(dy);
      }
    }
  }
  return failures;
}

/// One fp16 product y[M, N] = x[M, K] · W[N, K]ᵀ with random inputs on the
/// GPU and cuBLAS's output as the reference for kuai's variants.
struct CublasCase {
  cublasHandle_t h;
  long long m, n, k;
  uint16_t *dx, *dw, *dy, *dref, *dbias, *dxcopy = nullptr;
  std::vector<uint16_t> ref;

  CublasCase(cublasHandle_t h, long long m, long long n, long long k,
             std::mt19937 &g)
      : h(h), m(m), n(n), k(k), ref(m * n) {
    dx = upload(randomHalf(m * k, 1.f, false, g));
    dw = upload(randomHalf(n * k, 1.f / std::sqrt(float(k)), false, g));
    CHECK_RT(cudaMalloc(&dy, m * n * 2));
    CHECK_RT(cudaMalloc(&dref, m * n * 2));
    dbias = upload(randomHalf(n, 0.5f, false, g));
    cublas();
    CHECK_RT(cudaDeviceSynchronize());
    CHECK_RT(
        cudaMemcpy(ref.data(), dref, ref.size() * 2, cudaMemcpyDeviceToHost));
  }
  CublasCase(const CublasCase &) = delete;
  ~CublasCase() {
    cudaFree(dx), cudaFree(dw), cudaFree(dy), cudaFree(dref), cudaFree(dbias);
    cudaFree(dxcopy);
  }
  /// The state of L2 in a model: W evicted (the rest of the model ran since
  /// its last use), x just written by the kernel before. Writes 256 MB over
  /// L2, then reads x.
  void coldW() {
    static void *flush = nullptr;
    constexpr size_t kFlush = size_t(256) << 20;
    if (!flush)
      CHECK_RT(cudaMalloc(&flush, kFlush));
    if (!dxcopy)
      CHECK_RT(cudaMalloc(&dxcopy, m * k * 2));
    CHECK_RT(cudaMemsetAsync(flush, 0, kFlush));
    CHECK_RT(cudaMemcpyAsync(dxcopy, dx, m * k * 2, cudaMemcpyDeviceToDevice));
  }

  void cublas() {
    float one = 1, zero = 0;
    cublasGemmEx(h, CUBLAS_OP_T, CUBLAS_OP_N, int(n), int(m), int(k), &one, dw,
                 CUDA_R_16F, int(k), dx, CUDA_R_16F, int(k), &zero, dref,
                 CUDA_R_16F, int(n), CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
  }
  /// With `residual`, cuBLAS's output is added as the residual; with
  /// `bias`, a random bias (timing: the models' linears have both).
  void run(const Variant &v, int act = 0, bool residual = false,
           bool bias = false) {
    launch(v, false, dx, dw, bias ? dbias : nullptr, residual ? dref : nullptr,
           dy, m, n, k, act);
  }
  /// Relative L2 of the variant's output against cuBLAS's; NaN when an
  /// element of the NaN-poisoned output stayed unwritten.
  double error(const Variant &v) {
    CHECK_RT(cudaMemset(dy, 0xFF, m * n * 2));
    run(v);
    CHECK_RT(cudaDeviceSynchronize());
    std::vector<uint16_t> out(m * n);
    CHECK_RT(
        cudaMemcpy(out.data(), dy, out.size() * 2, cudaMemcpyDeviceToHost));
    double num = 0, den = 0;
    for (size_t i = 0; i < out.size(); ++i) {
      double o = h2f(out[i], false), r = h2f(ref[i], false);
      num += (o - r) * (o - r);
      den += r * r;
    }
    return std::sqrt(num / den);
  }
};

struct TimedShape {
  const char *name;
  long long m, n, k;
  int act = 0;              // the epilogue's activation (timing only)
  bool residual = false;    // add cuBLAS's output as a residual (timing only)
  bool bias = false;        // add a bias (timing only)
  bool cold = false;        // W evicted from L2 before each launch (coldW)
  bool afterCublas = false; // cuBLAS's product runs before each launch:
                            // other code in the instruction caches, as
                            // inside a model
};

/// A table of microseconds per launch: every variant of `vars` next to
/// cuBLAS (no epilogue) at each shape, each output checked against
/// cuBLAS's (without the epilogue). Returns the failed checks.
static int timeShapes(const char *title, const std::vector<TimedShape> &shapes,
                      const std::vector<const Variant *> &vars,
                      cublasHandle_t h, const std::string &commit,
                      unsigned seed) {
  std::printf("\n## %s (commit %s), fp16, microseconds per launch (median of "
              "50, events)\n\n| shape | M | N | K |",
              title, commit.c_str());
  for (const Variant *v : vars)
    std::printf(" %s |", v->name);
  std::printf(" cuBLAS | best kuai / cuBLAS time |\n| --- | --- | --- | --- |");
  for (size_t i = 0; i < vars.size() + 2; ++i)
    std::printf(" --- |");
  std::printf("\n");
  int failures = 0;
  std::mt19937 g(seed);
  // KUAI_GWB_ROW=NAME: only the row of that shape (to profile one kernel).
  const char *onlyRow = std::getenv("KUAI_GWB_ROW");
  for (const TimedShape &s : shapes) {
    if (onlyRow && std::strcmp(onlyRow, s.name) != 0)
      continue;
    CublasCase c(h, s.m, s.n, s.k, g);
    std::printf("| %s | %lld | %lld | %lld |", s.name, s.m, s.n, s.k);
    double best = 1e30;
    for (const Variant *v : vars) {
      // The ping-pong tile has no activation and stores column pairs (even
      // N); the lowering gives it neither.
      if (v->persistent && (s.act || s.n % 2)) {
        std::printf(" - |");
        continue;
      }
      bool ok = c.error(*v) < 2e-3;
      failures += !ok;
      double us = 1e3 * medianMs([&] { c.run(*v, s.act, s.residual, s.bias); },
                                 [&] {
                                   if (s.cold)
                                     c.coldW();
                                   if (s.afterCublas)
                                     c.cublas();
                                 });
      best = std::min(best, us);
      std::printf(" %.1f%s |", us, ok ? "" : " **FAIL**");
    }
    double usc = 1e3 * medianMs([&] { c.cublas(); },
                                [&] {
                                  if (s.cold)
                                    c.coldW();
                                });
    std::printf(" %.1f | %.2f |\n", usc, best / usc);
    std::fflush(stdout);
  }
  return failures;
}

int main(int argc, char **argv) {
  std::string dir = argc > 1 ? argv[1] : "lib/Codegen/templates";
  std::string commit = argc > 2 ? argv[2] : "unknown";
  CHECK_CU(cuInit(0));
  CHECK_RT(cudaFree(0)); // primary context
  CUmodule mod = compileTemplates(dir);
  auto variants = [&](const char *suffix, bool splits) {
    std::vector<Variant> v = {{"wg256", 256, 4, nullptr},
                              {"wg192", 192, 5, nullptr},
                              {"wg128", 128, 6, nullptr},
                              {"wgpp128", 128, 6, nullptr, 1, true, 1024}};
    if (splits) // the cluster split-K instances (16-bit output only)
      for (Variant s : {Variant{"wg128s2", 128, 6, nullptr, 2},
                        Variant{"wg128s4", 128, 6, nullptr, 4},
                        Variant{"wg128s8", 128, 6, nullptr, 8}})
        v.push_back(s);
    // Template directories of other commits may lack a variant: it is left
    // out (said on stderr), so that one build of the bench times them all.
    std::vector<Variant> found;
    for (Variant &x : v) {
      std::string fn = std::string("kuai_linear_") + x.name + suffix;
      CUresult r = cuModuleGetFunction(&x.f, mod, fn.c_str());
      if (r == CUDA_ERROR_NOT_FOUND) {
        std::fprintf(stderr, "%s: no %s, left out\n", dir.c_str(), fn.c_str());
        continue;
      }
      CHECK_CU(r);
      CHECK_CU(cuFuncSetAttribute(
          x.f, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, x.smem()));
      found.push_back(x);
    }
    return found;
  };
  // The 16-bit outputs with and without the split instances (v16s, vbfs).
  auto v16 = variants("_f16", false), v16s = variants("_f16", true),
       v16f = variants("_f16_out_f32", false), vbfs = variants("_bf16", true),
       vbff = variants("_bf16_out_f32", false);
  cudaDeviceProp prop;
  cudaGetDeviceProperties(&prop, 0);
  smCount = prop.multiProcessorCount;
  cublasHandle_t h;
  cublasCreate(&h);
  std::printf("# GEMM: kuai wgmma template vs cuBLAS\n\n");
  std::printf("device: %s (%d SMs); commit: %s; cuBLAS %d; kuai: "
              "linear_wgmma.cu through NVRTC (compute_90a), TMA + mbarrier "
              "pipeline, 1 producer + 2 consumer warpgroups; fp16 in, fp32 "
              "accumulate, fp16 out; median of 50 launches, each timed with "
              "events\n\n",
              prop.name, prop.multiProcessorCount, commit.c_str(),
              CUBLAS_VERSION);
  std::printf("| shape | M | N | K |");
  for (const Variant &v : v16)
    std::printf(" %s TFLOP/s |", v.name);
  std::printf(" cuBLAS TFLOP/s | best / cuBLAS | best %% of 757 | rel. L2 vs "
              "cuBLAS (worst variant) |\n| --- | --- | --- | --- |");
  for (size_t i = 0; i < v16.size() + 4; ++i)
    std::printf(" --- |");
  std::printf("\n");
  struct Shape {
    const char *name;
    long long m, n, k;
  };
  std::vector<Shape> shapes = {{"square", 4096, 4096, 4096}};
  for (long long m : {1, 16, 512, 4096}) {
    shapes.push_back({"8B qkv", m, 6144, 4096});
    shapes.push_back({"8B o", m, 4096, 4096});
    shapes.push_back({"8B gate_up", m, 28672, 4096});
    shapes.push_back({"8B down", m, 4096, 14336});
  }
  // KUAI_GWB_ENCODER_ONLY=1: only the encoder table and the epilogue
  // checks (a short run when device time is scarce).
  const bool encoderOnly = std::getenv("KUAI_GWB_ENCODER_ONLY") != nullptr;
  if (encoderOnly)
    shapes.clear();
  std::mt19937 g(0);
  for (const Shape &s : shapes) {
    CublasCase c(h, s.m, s.n, s.k, g);
    double flop = 2.0 * s.m * s.n * s.k, best = 0, worstErr = 0;
    std::printf("| %s | %lld | %lld | %lld |", s.name, s.m, s.n, s.k);
    for (const Variant &v : v16) {
      worstErr = std::max(worstErr, c.error(v));
      double tf = flop / (medianMs([&] { c.run(v); }) * 1e-3) / 1e12;
      best = std::max(best, tf);
      std::printf(" %.1f |", tf);
    }
    double tc = flop / (medianMs([&] { c.cublas(); }) * 1e-3) / 1e12;
    std::printf(" %.1f | %.2f | %.1f%% | %.1e |\n", tc, best / tc,
                100 * best / 757, worstErr);
    std::fflush(stdout);
  }
  // The linears of BERT-base and GPT-2-small at 128 and 512 rows, whose
  // 128x128 tiles do not fill the SMs: every variant, the cluster split-K
  // ones included.
  std::vector<const Variant *> all, unsplit;
  for (const Variant &v : v16s) {
    all.push_back(&v);
    if (v.splits == 1)
      unsplit.push_back(&v);
  }
  int failures = 0;
  if (!encoderOnly)
    failures += timeShapes("Short-K linears with few tiles",
                           {{"BERT q/k/v/o", 128, 768, 768},
                            {"BERT fc1", 128, 3072, 768},
                            {"BERT fc2", 128, 768, 3072},
                            {"GPT-2 qkv", 512, 2304, 768},
                            {"GPT-2 o", 512, 768, 768},
                            {"GPT-2 fc1", 512, 3072, 768},
                            {"GPT-2 fc2", 512, 768, 3072},
                            {"BERT 32x128 o", 4096, 768, 768}},
                           all, h, commit, 1);
  // BERT-base's linears at 32 x 128 rows (short K, one to three waves of
  // tiles), with and without the epilogues they have in the model (erf
  // GELU, residual add): the unsplit variants.
  failures += timeShapes(
      "Encoder linears at 4096 rows",
      {{"BERT 32x128 q/k/v", 4096, 768, 768},
       {"BERT 32x128 qkv (fused)", 4096, 2304, 768},
       {"BERT 32x128 o+residual", 4096, 768, 768, 0, true},
       {"BERT 32x128 fc1", 4096, 3072, 768},
       {"BERT 32x128 fc1+gelu", 4096, 3072, 768, 1},
       {"BERT 32x128 fc1+bias+gelu", 4096, 3072, 768, 1, false, true},
       {"BERT 32x128 qkv+bias", 4096, 2304, 768, 0, false, true},
       {"BERT 32x128 fc2+bias+residual", 4096, 768, 3072, 0, true, true},
       {"BERT 32x128 fc1+bias+gelu, W cold", 4096, 3072, 768, 1, false, true,
        true},
       {"BERT 32x128 qkv+bias, W cold", 4096, 2304, 768, 0, false, true, true},
       {"BERT 32x128 fc1+bias+gelu, after cuBLAS", 4096, 3072, 768, 1, false,
        true, false, true},
       {"BERT 32x128 qkv+bias, after cuBLAS", 4096, 2304, 768, 0, false, true,
        false, true},
       {"BERT 32x128 fc2", 4096, 768, 3072},
       {"BERT 32x128 fc2+residual", 4096, 768, 3072, 0, true},
       {"GPT-2 1x512 qkv", 512, 2304, 768},
       {"GPT-2 1x512 fc1+bias+gelu", 512, 3072, 768, 1, false, true},
       // The logits: odd N, so the epilogue stores element by element.
       {"GPT-2 1x512 lm head", 512, 50257, 768},
       {"square", 4096, 4096, 4096}},
      unsplit, h, commit, 2);
  // KUAI_GWB_NO_CHECKS=1: timings only (templates checked in another run).
  if (std::getenv("KUAI_GWB_NO_CHECKS")) {
    std::printf("\nepilogue checks: not run (KUAI_GWB_NO_CHECKS)\n");
    return failures ? 1 : 0;
  }
  failures += checkEpilogues(v16s, v16f, vbfs, vbff);
  std::printf("\nepilogue checks: %s\n", failures ? "FAILED" : "all passed");
  return failures ? 1 : 0;
}
