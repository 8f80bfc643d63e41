//===- ArtifactTest.cpp - Writing, reading and rejecting model.kuai -------===//

#include "kuai/Artifact/ArtifactWriter.h"
#include "kuai/kuai_runtime.h"
#include <cstdio>
#include <fstream>
#include <gtest/gtest.h>
#include <iterator>
#include <string>
#include <unistd.h>
#include <vector>

namespace {

std::string tempPath(const char *name) {
  return ::testing::TempDir() + "kuai-artifact-test-" +
         std::to_string(getpid()) + "-" + name;
}

std::vector<char> readFile(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  return std::vector<char>(std::istreambuf_iterator<char>(f), {});
}

void writeFile(const std::string &path, const std::vector<char> &bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), bytes.size());
}

/// Owns a status and frees it.
struct Status {
  kuai_status_t s;
  ~Status() { kuai_status_free(s); }
  kuai_status_code code() const { return kuai_status_code_of(s); }
  std::string message() const { return kuai_status_message(s); }
};

class ArtifactTest : public ::testing::Test {
protected:
  std::string path = tempPath("model.kuai");
  std::string manifest = R"({"inputs": [{"name": "input_ids"}]})";
  std::vector<float> weights = std::vector<float>(1000, 0.5f);
  std::string ptx = ".version 8.0\n.target sm_90\n";

  void SetUp() override {
    kuai::ArtifactWriter w;
    w.addSection(KUAI_SECTION_MANIFEST, "manifest", manifest.data(),
                 manifest.size());
    w.addSection(KUAI_SECTION_WEIGHTS, "embed.weight", weights.data(),
                 weights.size() * sizeof(float));
    w.addSection(KUAI_SECTION_PTX, "kernels", ptx.data(), ptx.size());
    ASSERT_EQ(w.write(path), "");
  }
  void TearDown() override { std::remove(path.c_str()); }
};

TEST_F(ArtifactTest, RoundTrips) {
  kuai_artifact_t a = nullptr;
  Status s{kuai_artifact_open(path.c_str(), &a)};
  ASSERT_EQ(s.code(), KUAI_OK) << s.message();
  EXPECT_EQ(std::string(kuai_artifact_manifest(a)), manifest);
  ASSERT_EQ(kuai_artifact_section_count(a), 3u);
  uint32_t kind;
  const char *name;
  uint64_t size;
  Status info{kuai_artifact_section_info(a, 1, &kind, &name, &size)};
  EXPECT_EQ(kind, uint32_t(KUAI_SECTION_WEIGHTS));
  EXPECT_STREQ(name, "embed.weight");
  EXPECT_EQ(size, weights.size() * sizeof(float));
  kuai_artifact_release(a);
}

TEST_F(ArtifactTest, SectionsAreAligned) {
  std::vector<char> bytes = readFile(path);
  kuai_artifact_header header;
  memcpy(&header, bytes.data(), sizeof(header));
  for (uint32_t i = 0; i < header.section_count; ++i) {
    kuai_artifact_section s;
    memcpy(&s, bytes.data() + header.table_offset + i * sizeof(s), sizeof(s));
    EXPECT_EQ(s.offset % KUAI_ARTIFACT_ALIGNMENT, 0u) << s.name;
  }
}

TEST_F(ArtifactTest, CorruptedWeightsAreNamed) {
  std::vector<char> bytes = readFile(path);
  bytes[KUAI_ARTIFACT_ALIGNMENT * 2 + 17] ^= 0x40; // inside the weights
  writeFile(path, bytes);
  kuai_artifact_t a = nullptr;
  Status s{kuai_artifact_open(path.c_str(), &a)};
  EXPECT_EQ(s.code(), KUAI_DATA_LOSS);
  EXPECT_NE(s.message().find("section 'embed.weight' checksum mismatch"),
            std::string::npos)
      << s.message();
  EXPECT_EQ(a, nullptr);
}

TEST_F(ArtifactTest, OtherVersionIsRejected) {
  std::vector<char> bytes = readFile(path);
  uint32_t version = KUAI_ARTIFACT_VERSION + 1;
  memcpy(bytes.data() + 8, &version, 4);
  writeFile(path, bytes);
  kuai_artifact_t a = nullptr;
  Status s{kuai_artifact_open(path.c_str(), &a)};
  EXPECT_EQ(s.code(), KUAI_INCOMPATIBLE);
  EXPECT_NE(s.message().find("format version 2, this runtime reads version 1"),
            std::string::npos)
      << s.message();
}

TEST_F(ArtifactTest, TruncatedAndForeignFilesAreRejected) {
  std::vector<char> bytes = readFile(path);
  bytes.resize(bytes.size() - 10);
  writeFile(path, bytes);
  kuai_artifact_t a = nullptr;
  Status truncated{kuai_artifact_open(path.c_str(), &a)};
  EXPECT_EQ(truncated.code(), KUAI_DATA_LOSS);
  EXPECT_NE(truncated.message().find("truncated"), std::string::npos);

  writeFile(path, std::vector<char>(4096, 'x'));
  Status foreign{kuai_artifact_open(path.c_str(), &a)};
  EXPECT_EQ(foreign.code(), KUAI_DATA_LOSS);
  EXPECT_NE(foreign.message().find("bad magic"), std::string::npos);

  Status missing{kuai_artifact_open("/nonexistent/model.kuai", &a)};
  EXPECT_EQ(missing.code(), KUAI_NOT_FOUND);
}

TEST(Runtime, NoDriverSaysSoAndPointsToTheReferenceExecutor) {
  kuai_runtime_options options;
  kuai_runtime_options_initialize(&options);
  options.driver_library = "libkuai-no-such-cuda-driver.so.1";
  kuai_runtime_t runtime = nullptr;
  Status s{kuai_runtime_create(&options, &runtime)};
  EXPECT_EQ(s.code(), KUAI_UNAVAILABLE);
  EXPECT_NE(s.message().find("no CUDA driver"), std::string::npos)
      << s.message();
  EXPECT_NE(s.message().find("reference executor"), std::string::npos);
  EXPECT_EQ(runtime, nullptr);
}

TEST(Runtime, OptionsMustBeInitialized) {
  kuai_runtime_options options = {};
  kuai_runtime_t runtime = nullptr;
  Status s{kuai_runtime_create(&options, &runtime)};
  EXPECT_EQ(s.code(), KUAI_INVALID_ARGUMENT);
}

// Generation and sampling refuse bad arguments before touching the GPU.
TEST(Runtime, GenerateAndSamplingCheckTheirArguments) {
  kuai_generate_options options = {};
  uint32_t seq = 0;
  int64_t ids[1] = {1};
  Status raw{kuai_model_generate(nullptr, &seq, 1, ids, 1, &options, nullptr,
                                 nullptr)};
  EXPECT_EQ(raw.code(), KUAI_INVALID_ARGUMENT);
  EXPECT_NE(raw.message().find("kuai_generate_options_initialize"),
            std::string::npos);
  kuai_generate_options_initialize(&options);
  EXPECT_EQ(options.max_new_tokens, 32u);
  EXPECT_EQ(options.sampling.temperature, 0.f);
  EXPECT_EQ(options.sampling.top_p, 1.f);
  Status noModel{kuai_model_generate(nullptr, &seq, 1, ids, 1, &options,
                                     nullptr, nullptr)};
  EXPECT_EQ(noModel.code(), KUAI_INVALID_ARGUMENT);
  options.stop_count = 2;
  Status noStops{kuai_model_generate(nullptr, &seq, 1, ids, 1, &options,
                                     nullptr, nullptr)};
  EXPECT_EQ(noStops.code(), KUAI_INVALID_ARGUMENT);
  kuai_sampling_options sampling;
  kuai_sampling_options_initialize(&sampling);
  Status notLive{kuai_model_sequence_sampling(nullptr, 0, &sampling)};
  EXPECT_EQ(notLive.code(), KUAI_INVALID_ARGUMENT);
  EXPECT_NE(notLive.message().find("not live"), std::string::npos);
}

} // namespace
