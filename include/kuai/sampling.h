//===- sampling.h - Token sampling shared by host and GPU ------*- C++ -*-===//
//
// One definition of sampling, so that generation through the reference
// executor (kuai-run model.onnx) and on the GPU (kuai_sample in
// lib/Codegen/templates/paged_attention.cu) pick the same tokens for the
// same seed, up to float rounding at the boundaries:
//
//   w_i = exp((x_i - max x) / T)
//   K   = {i : x_i >= the k-th largest x (duplicates counted)}  (k = 0: all)
//   P   = {i in K : x_i >= t}, t the largest value with
//         sum of w over {j in K : x_j >= t} >= p * sum of w over K
//   id  = the smallest i in P whose running sum of w over P (in index
//         order) exceeds u * sum of w over P
//
// with u in [0, 1) the step-th uniform of the sequence's seed; greedy (the
// first maximum) when T <= 0 or the maximum is not finite. Header-only:
// the runtime (built without the compiler) and the drivers include it.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_SAMPLING_H
#define KUAI_SAMPLING_H

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace kuai {

/// The step-th uniform in [0, 1) of `seed` (SplitMix64 of seed and step,
/// 24 bits: exact in float and double alike).
inline double samplingUniform(uint64_t seed, uint64_t step) {
  uint64_t z = seed + (step + 1) * 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return double(z >> 40) * (1.0 / 16777216.0);
}

/// The token the definition above picks from `row` (n logits); greedy (the
/// first maximum) when temperature <= 0. NaNs are never picked.
inline int64_t samplePick(const float *row, int64_t n, double temperature,
                          int64_t topK, double topP, double u) {
  auto value = [&](int64_t i) {
    return std::isnan(row[i]) ? -INFINITY : row[i];
  };
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i)
    if (value(i) > value(best))
      best = i;
  const float top = value(best);
  if (temperature <= 0 || n <= 1 || !std::isfinite(top))
    return best; // an infinite maximum (or none) leaves no finite weights
  float cutK = -INFINITY;
  if (topK > 0 && topK < n) {
    std::vector<float> sorted(n);
    for (int64_t i = 0; i < n; ++i)
      sorted[i] = value(i);
    std::nth_element(sorted.begin(), sorted.begin() + (topK - 1), sorted.end(),
                     std::greater<float>());
    cutK = sorted[topK - 1];
  }
  auto weight = [&](int64_t i) {
    return std::exp((double(value(i)) - top) / temperature);
  };
  float cut = cutK;
  if (topP < 1) {
    std::vector<std::pair<float, double>> kept; // (value, weight), in K
    double total = 0;
    for (int64_t i = 0; i < n; ++i)
      if (value(i) >= cutK) {
        kept.push_back({value(i), weight(i)});
        total += kept.back().second;
      }
    std::sort(kept.begin(), kept.end(),
              [](const auto &a, const auto &b) { return a.first > b.first; });
    double mass = 0;
    for (size_t j = 0; j < kept.size(); ++j) {
      mass += kept[j].second;
      bool groupEnds =
          j + 1 == kept.size() || kept[j + 1].first < kept[j].first;
      if (groupEnds && mass >= topP * total) {
        cut = kept[j].first;
        break;
      }
    }
  }
  double total = 0;
  for (int64_t i = 0; i < n; ++i)
    if (value(i) >= cut)
      total += weight(i);
  double target = u * total, running = 0;
  int64_t last = best;
  for (int64_t i = 0; i < n; ++i) {
    if (value(i) < cut)
      continue;
    running += weight(i);
    last = i;
    if (running > target)
      return i;
  }
  return last;
}

} // namespace kuai

#endif
