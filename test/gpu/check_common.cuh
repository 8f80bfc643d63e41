// Shared by the GPU checks (test/gpu/*_check.cu): CUDA errors end the
// check, and host rounding of floats to the kernels' storage types.
#ifndef KUAI_TEST_GPU_CHECK_COMMON_CUH
#define KUAI_TEST_GPU_CHECK_COMMON_CUH

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#define CHECK_CUDA(x)                                                          \
  do {                                                                         \
    cudaError_t e = (x);                                                       \
    if (e != cudaSuccess) {                                                    \
      std::printf("CUDA error %s at %s:%d\n", cudaGetErrorString(e), __FILE__, \
                  __LINE__);                                                   \
      std::exit(2);                                                            \
    }                                                                          \
  } while (0)

// The float a half or a bfloat16 (bits) stands for (halves: normal or zero).
static float halfToFloat(unsigned short h) {
  int e = (h >> 10) & 0x1f;
  float v = e == 0 ? 0.f : std::ldexp(1.f + (h & 0x3ff) / 1024.f, e - 15);
  return (h & 0x8000) ? -v : v;
}
static float bf16ToFloat(unsigned short h) {
  unsigned w = unsigned(h) << 16;
  float f;
  std::memcpy(&f, &w, 4);
  return f;
}

// Host rounding of a float to the storage type, returned as its bits and as
// the float it stands for.
static unsigned short toBf16(float f, float &back) {
  unsigned u;
  std::memcpy(&u, &f, 4);
  u += 0x7fffu + ((u >> 16) & 1u);
  unsigned short h = u >> 16;
  back = bf16ToFloat(h);
  return h;
}
static unsigned short toF16(float f, float &back) {
  // Values here are normal halves or zero; round to nearest even.
  unsigned u;
  std::memcpy(&u, &f, 4);
  unsigned sign = (u >> 16) & 0x8000u;
  int exp = int((u >> 23) & 0xff) - 127 + 15;
  unsigned mant = u & 0x7fffffu;
  unsigned short h;
  if (exp <= 0) {
    h = sign; // tiny: flush (the generator avoids them)
  } else {
    unsigned m = mant >> 13, rest = mant & 0x1fffu;
    if (rest > 0x1000u || (rest == 0x1000u && (m & 1u)))
      ++m;
    unsigned bits = (unsigned(exp) << 10) + m; // carry into the exponent
    h = sign | bits;
  }
  back = halfToFloat(h);
  return h;
}

template <typename T> struct Store;
template <> struct Store<float> {
  static float make(float f, float &back) {
    back = f;
    return f;
  }
  static const char *name() { return "f32"; }
};
template <> struct Store<kuai_f16> {
  static kuai_f16 make(float f, float &back) { return {toF16(f, back)}; }
  static const char *name() { return "f16"; }
};
template <> struct Store<kuai_bf16> {
  static kuai_bf16 make(float f, float &back) { return {toBf16(f, back)}; }
  static const char *name() { return "bf16"; }
};

// Median of 7 timings of `launches` launches, in microseconds per launch.
template <typename F> static double timeLaunches(F &&launchOne, int launches) {
  cudaEvent_t start, stop;
  CHECK_CUDA(cudaEventCreate(&start));
  CHECK_CUDA(cudaEventCreate(&stop));
  for (int i = 0; i < launches; ++i) // warm-up
    launchOne(i);
  std::vector<double> us;
  for (int rep = 0; rep < 7; ++rep) {
    CHECK_CUDA(cudaEventRecord(start));
    for (int i = 0; i < launches; ++i)
      launchOne(i);
    CHECK_CUDA(cudaEventRecord(stop));
    CHECK_CUDA(cudaEventSynchronize(stop));
    float ms;
    CHECK_CUDA(cudaEventElapsedTime(&ms, start, stop));
    us.push_back(1e3 * ms / launches);
  }
  std::sort(us.begin(), us.end());
  CHECK_CUDA(cudaEventDestroy(start));
  CHECK_CUDA(cudaEventDestroy(stop));
  return us[3];
}

#endif
