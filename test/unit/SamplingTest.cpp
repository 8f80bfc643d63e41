//===- SamplingTest.cpp - The host definition of sampling ----------------===//
//
// kuai/sampling.h defines how a token is sampled; the GPU's kuai_sample is
// checked against it on the GPU machine (test/gpu/sampling_check.cu).
// These tests pin the definition itself: greedy, the top-k and top-p cuts
// (ties included), the draw's position for known u, and frequencies.
//
//===----------------------------------------------------------------------===//
#include "kuai/sampling.h"
#include <cmath>
#include <gtest/gtest.h>
#include <map>
#include <set>

using kuai::samplePick;
using kuai::samplingUniform;

namespace {

/// The ids `draws` samples of `row` reach (uniforms of seed 3).
std::set<int64_t> reached(const float *row, int64_t n, double temperature,
                          int64_t topK, double topP, int draws) {
  std::set<int64_t> seen;
  for (int i = 0; i < draws; ++i)
    seen.insert(
        samplePick(row, n, temperature, topK, topP, samplingUniform(3, i)));
  return seen;
}

} // namespace

TEST(Sampling, GreedyIsTheFirstMaximum) {
  const float row[] = {1.f, 3.f, -2.f, 3.f, NAN};
  EXPECT_EQ(samplePick(row, 5, 0.0, 0, 1.0, 0.7), 1);
  EXPECT_EQ(samplePick(row, 5, -1.0, 0, 1.0, 0.7), 1);
}

TEST(Sampling, NoFiniteMaximumIsGreedy) {
  const float row[] = {1.f, INFINITY, 2.f, INFINITY};
  EXPECT_EQ(samplePick(row, 4, 1.0, 0, 0.9, 0.99), 1);
  const float none[] = {-INFINITY, NAN, -INFINITY};
  EXPECT_EQ(samplePick(none, 3, 1.0, 0, 1.0, 0.5), 0);
}

TEST(Sampling, DrawFollowsTheCumulativeWeights) {
  // T = 1: weights e^(x - max): 1, e^-ln2 = 1/2, 1/2 (total 2).
  const float ln2 = std::log(2.f);
  const float row[] = {0.f, -ln2, -ln2};
  EXPECT_EQ(samplePick(row, 3, 1.0, 0, 1.0, 0.0), 0);
  EXPECT_EQ(samplePick(row, 3, 1.0, 0, 1.0, 0.49), 0);
  EXPECT_EQ(samplePick(row, 3, 1.0, 0, 1.0, 0.51), 1);
  EXPECT_EQ(samplePick(row, 3, 1.0, 0, 1.0, 0.76), 2);
  EXPECT_EQ(samplePick(row, 3, 1.0, 0, 1.0, 0.999999), 2);
}

TEST(Sampling, TopKKeepsTheKLargestWithTies) {
  const float row[] = {5.f, 1.f, 4.f, 4.f, 0.f, 3.f};
  EXPECT_EQ(reached(row, 6, 100.0, 2, 1.0, 200), (std::set<int64_t>{0, 2, 3}));
  EXPECT_EQ(reached(row, 6, 100.0, 1, 1.0, 200), (std::set<int64_t>{0}));
}

TEST(Sampling, TopPKeepsTheSmallestHeadReachingP) {
  // T = 1, weights 8, 4, 2, 1, 1 (total 16): p = 0.75 needs 8 + 4 = 12.
  const float row[] = {0.f, -std::log(2.f), -std::log(4.f), -std::log(8.f),
                       -std::log(8.f)};
  EXPECT_EQ(reached(row, 5, 1.0, 0, 0.75, 300), (std::set<int64_t>{0, 1}));
  // Just above 0.75: the 2 joins; at 15/16 + a bit, the tie of two 1s.
  EXPECT_EQ(reached(row, 5, 1.0, 0, 0.8, 300), (std::set<int64_t>{0, 1, 2}));
  EXPECT_EQ(reached(row, 5, 1.0, 0, 0.9, 600),
            (std::set<int64_t>{0, 1, 2, 3, 4}));
  // Top-k first, then top-p within the k: k = 2 leaves 8 + 4; p = 0.6 of 12
  // is 7.2, reached by 8 alone.
  EXPECT_EQ(reached(row, 5, 1.0, 2, 0.6, 300), (std::set<int64_t>{0}));
}

TEST(Sampling, FrequenciesFollowTheTemperature) {
  // T = 2 halves the logits: weights 1, e^-1, e^-2.
  const float row[] = {0.f, -2.f, -4.f};
  std::map<int64_t, int> counts;
  const int draws = 20000;
  for (int i = 0; i < draws; ++i)
    ++counts[samplePick(row, 3, 2.0, 0, 1.0, samplingUniform(11, i))];
  double total = 1 + std::exp(-1.0) + std::exp(-2.0);
  const double want[] = {1 / total, std::exp(-1.0) / total,
                         std::exp(-2.0) / total};
  for (int t = 0; t < 3; ++t) // 20,000 draws: sd < 0.004
    EXPECT_NEAR(counts[t] / double(draws), want[t], 0.015) << "token " << t;
}

TEST(Sampling, UniformsAreInRangeAndSeeded) {
  double sum = 0;
  for (uint64_t i = 0; i < 10000; ++i) {
    double u = samplingUniform(42, i);
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  EXPECT_NEAR(sum / 10000, 0.5, 0.02);
  EXPECT_EQ(samplingUniform(42, 5), samplingUniform(42, 5));
  EXPECT_NE(samplingUniform(42, 5), samplingUniform(43, 5));
  EXPECT_NE(samplingUniform(42, 5), samplingUniform(42, 6));
}
