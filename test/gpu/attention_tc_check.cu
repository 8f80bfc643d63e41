// On the GPU machine: the tensor-core prefill attention of
// templates/attention_tc.cu.
//
// Check: kuai_attention_tc{32,64,128}_{f16,bf16} against a host attention
// in double precision on the same 16-bit values, for every mask kind the
// kernel takes (none, causal, sliding window, padding, causal + padding),
// grouped-query heads, key lengths longer than the query length, lengths
// that are not multiples of the 64-row tiles, an odd number of key tiles
// (the double buffer's two halves in turn), rows whose keys are all masked
// (zeros) and the two layouts the compiler passes (heads inside the row,
// [B, S, H, D], and heads outside, [B, H, S, D]). The output starts as
// NaN, so a row left unwritten fails. Tolerance: relative L2 1e-2 per case
// (P is rounded to the input type before P·V, as in flash attention).
//
// Timing (no assertions): the BERT-base (32 x 128, padding) and GPT-2-small
// (1 x 512, causal) attentions, one launch between events, median of 7. Prints
// markdown; exits 1 on any check failure.
//
//   nvcc -O2 -arch=sm_90 -std=c++17 -Ilib/Codegen/templates \
//     test/gpu/attention_tc_check.cu -o build-gpu/attention_tc_check
#define KUAI_WITH_F16
#define KUAI_WITH_BF16
#include "attention_tc.cu"

#include "check_common.cuh"

#include <algorithm>
#include <random>
#include <type_traits>
#include <vector>

using Attention = void (*)(const void *, const void *, const void *,
                           const void *, void *, AttnShape, float);

template <typename T> Attention pick(int d);
template <> Attention pick<kuai_f16>(int d) {
  return d == 32   ? (Attention)kuai_attention_tc32_f16
         : d == 64 ? (Attention)kuai_attention_tc64_f16
                   : (Attention)kuai_attention_tc128_f16;
}
template <> Attention pick<kuai_bf16>(int d) {
  return d == 32   ? (Attention)kuai_attention_tc32_bf16
         : d == 64 ? (Attention)kuai_attention_tc64_bf16
                   : (Attention)kuai_attention_tc128_bf16;
}

struct Case {
  const char *name;
  i64 batch, qHeads, kvHeads, qLen, kvLen, d;
  MaskKind mask;
  i64 window;
  bool headsInRow; // [B, S, H, D] rather than [B, H, S, D]
  bool timed;
};

// Strides (batch, head, row) of a [B, S, H, D] or [B, H, S, D] tensor.
static void strides(const Case &c, i64 heads, i64 len, i64 out[3]) {
  if (c.headsInRow) {
    out[0] = len * heads * c.d;
    out[1] = c.d;
    out[2] = heads * c.d;
  } else {
    out[0] = heads * len * c.d;
    out[1] = len * c.d;
    out[2] = c.d;
  }
}

template <typename T> static bool run(const Case &c, std::mt19937 &rng) {
  std::normal_distribution<float> normal(0.f, 1.f);
  AttnShape s{};
  s.batch = c.batch;
  s.q_heads = c.qHeads;
  s.kv_heads = c.kvHeads;
  s.q_len = c.qLen;
  s.kv_len = c.kvLen;
  s.d = s.dv = c.d;
  strides(c, c.qHeads, c.qLen, s.q_stride);
  strides(c, c.kvHeads, c.kvLen, s.k_stride);
  strides(c, c.kvHeads, c.kvLen, s.v_stride);
  strides(c, c.qHeads, c.qLen, s.o_stride);
  s.window = c.window;
  s.mask_kind = c.mask;
  s.mask_type = MT_I64;
  const bool causal = c.mask == MASK_CAUSAL || c.mask == MASK_SLIDING ||
                      c.mask == MASK_CAUSAL_PADDING,
             padding = c.mask == MASK_PADDING || c.mask == MASK_CAUSAL_PADDING;

  auto fill = [&](std::vector<T> &dev, std::vector<float> &host, i64 n) {
    dev.resize(n);
    host.resize(n);
    for (i64 i = 0; i < n; ++i)
      dev[i] = Store<T>::make(normal(rng), host[i]);
  };
  std::vector<T> q, k, v;
  std::vector<float> qh, kh, vh;
  fill(q, qh, c.batch * c.qLen * c.qHeads * c.d);
  fill(k, kh, c.batch * c.kvLen * c.kvHeads * c.d);
  fill(v, vh, c.batch * c.kvLen * c.kvHeads * c.d);
  // Padding: batch b keeps its last kvLen - pad(b) keys (left padding),
  // batch 1 of a causal + padding case pads so far that its first query
  // rows see no key at all.
  std::vector<i64> mask(c.batch * c.kvLen, 1);
  if (padding)
    for (i64 b = 0; b < c.batch; ++b) {
      i64 pad = (b * 37) % (c.kvLen / 2);
      if (c.mask == MASK_CAUSAL_PADDING && b == 1)
        pad = c.kvLen - c.qLen + 10;
      for (i64 j = 0; j < pad; ++j)
        mask[b * c.kvLen + j] = 0;
    }

  const double scale = 1.0 / std::sqrt(double(c.d));
  const i64 shift = c.kvLen - c.qLen, group = c.qHeads / c.kvHeads;
  std::vector<double> ref(q.size(), 0.0), p(c.kvLen);
  for (i64 b = 0; b < c.batch; ++b)
    for (i64 h = 0; h < c.qHeads; ++h)
      for (i64 i = 0; i < c.qLen; ++i) {
        const float *qi =
            &qh[b * s.q_stride[0] + h * s.q_stride[1] + i * s.q_stride[2]];
        double mx = -1e300;
        for (i64 j = 0; j < c.kvLen; ++j) {
          bool visible = !padding || mask[b * c.kvLen + j] != 0;
          if (causal)
            visible = visible && j <= i + shift;
          if (c.mask == MASK_SLIDING && c.window > 0)
            visible = visible && i + shift - j < c.window;
          if (!visible) {
            p[j] = -1e300;
            continue;
          }
          const float *kj =
              &kh[b * s.k_stride[0] + (h / group) * s.k_stride[1] +
                  j * s.k_stride[2]];
          double dot = 0;
          for (i64 e = 0; e < c.d; ++e)
            dot += double(qi[e]) * kj[e];
          p[j] = dot * scale;
          mx = std::max(mx, p[j]);
        }
        double sum = 0;
        for (i64 j = 0; j < c.kvLen; ++j)
          sum += p[j] = p[j] <= -1e299 ? 0.0 : std::exp(p[j] - mx);
        double *o =
            &ref[b * s.o_stride[0] + h * s.o_stride[1] + i * s.o_stride[2]];
        for (i64 j = 0; j < c.kvLen && sum > 0; ++j) {
          if (p[j] == 0.0)
            continue;
          const float *vj =
              &vh[b * s.v_stride[0] + (h / group) * s.v_stride[1] +
                  j * s.v_stride[2]];
          for (i64 e = 0; e < c.d; ++e)
            o[e] += p[j] / sum * vj[e];
        }
      }

  T *dq, *dk, *dv, *dout;
  i64 *dmask;
  CHECK_CUDA(cudaMalloc(&dq, q.size() * sizeof(T)));
  CHECK_CUDA(cudaMalloc(&dk, k.size() * sizeof(T)));
  CHECK_CUDA(cudaMalloc(&dv, v.size() * sizeof(T)));
  CHECK_CUDA(cudaMalloc(&dout, q.size() * sizeof(T)));
  CHECK_CUDA(cudaMalloc(&dmask, mask.size() * sizeof(i64)));
  CHECK_CUDA(cudaMemcpy(dq, q.data(), q.size() * sizeof(T), cudaMemcpyDefault));
  CHECK_CUDA(cudaMemcpy(dk, k.data(), k.size() * sizeof(T), cudaMemcpyDefault));
  CHECK_CUDA(cudaMemcpy(dv, v.data(), v.size() * sizeof(T), cudaMemcpyDefault));
  CHECK_CUDA(cudaMemcpy(dmask, mask.data(), mask.size() * sizeof(i64),
                        cudaMemcpyDefault));
  CHECK_CUDA(cudaMemset(dout, 0xff, q.size() * sizeof(T))); // NaN

  Attention kernel = pick<T>(int(c.d));
  // As kuai-compile plans it (LowerToKernels.cpp): 64 query rows a block.
  const int smem = int(4 * 64 * (c.d + 8) * 2);
  CHECK_CUDA(cudaFuncSetAttribute(
      (const void *)kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem));
  dim3 grid(unsigned((c.qLen + 63) / 64), unsigned(c.batch * c.qHeads));
  auto launch = [&] {
    kernel<<<grid, 128, smem>>>(dq, dk, dv, padding ? dmask : nullptr, dout, s,
                                float(scale));
  };
  launch();
  CHECK_CUDA(cudaGetLastError());
  CHECK_CUDA(cudaDeviceSynchronize());
  std::vector<T> out(q.size());
  CHECK_CUDA(
      cudaMemcpy(out.data(), dout, out.size() * sizeof(T), cudaMemcpyDefault));
  double num = 0, den = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    unsigned short bits;
    std::memcpy(&bits, &out[i], 2);
    const bool bf16 = std::is_same<T, kuai_bf16>::value;
    // An all-ones exponent (the NaN fill, or an overflow) counts as NaN.
    bool special = bf16 ? (bits & 0x7f80) == 0x7f80 : (bits & 0x7c00) == 0x7c00;
    double got = special ? NAN : bf16 ? bf16ToFloat(bits) : halfToFloat(bits);
    double e = got - ref[i];
    num += e * e;
    den += ref[i] * ref[i];
  }
  double rel = std::sqrt(num / std::max(den, 1e-30));
  bool ok = rel <= 1e-2; // NaN fails
  std::printf("| %s | %s | %lld x %lld/%lld heads, %lld -> %lld keys, d %lld "
              "| %.2e | %s |",
              c.name, Store<T>::name(), (long long)c.batch, (long long)c.qHeads,
              (long long)c.kvHeads, (long long)c.qLen, (long long)c.kvLen,
              (long long)c.d, rel, ok ? "pass" : "FAIL");
  if (c.timed) {
    std::printf(" %.1f |\n", timeLaunches([&](int) { launch(); }, 1));
  } else {
    std::printf(" - |\n");
  }
  cudaFree(dq);
  cudaFree(dk);
  cudaFree(dv);
  cudaFree(dout);
  cudaFree(dmask);
  return ok;
}

int main() {
  std::mt19937 rng(7);
  const Case cases[] = {
      {"BERT-base", 32, 12, 12, 128, 128, 64, MASK_PADDING, 0, true, true},
      {"GPT-2-small", 1, 12, 12, 512, 512, 64, MASK_CAUSAL, 0, true, true},
      {"GQA causal", 2, 8, 2, 200, 200, 128, MASK_CAUSAL, 0, false, false},
      {"sliding 100", 1, 4, 4, 300, 300, 64, MASK_SLIDING, 100, false, false},
      {"causal+padding", 2, 4, 2, 70, 150, 32, MASK_CAUSAL_PADDING, 0, true,
       false},
      {"one row", 3, 2, 2, 1, 65, 128, MASK_NONE, 0, false, false},
      {"3 key tiles", 2, 3, 3, 64, 190, 64, MASK_NONE, 0, true, false},
  };
  std::printf("| case | type | shape | rel. L2 vs double | check | us |\n"
              "| --- | --- | --- | --- | --- | --- |\n");
  bool ok = true;
  for (const Case &c : cases) {
    ok = run<kuai_f16>(c, rng) && ok;
    ok = run<kuai_bf16>(c, rng) && ok;
  }
  std::printf("attention_tc check: %s\n", ok ? "PASS" : "FAIL");
  return ok ? 0 : 1;
}
