//===- runtime_smoke.cpp - The runtime against a real GPU -----------------===//
//
// Writes two artifacts (a valid PTX module with weights; a PTX module the
// driver must reject) and loads them through the C API. Prints what it saw;
// exits non-zero when the valid one fails or the broken one loads.
// Built by test/gpu/run_gpu_tests.sh on the GPU machine (no MLIR there).
//
//===----------------------------------------------------------------------===//

#include "kuai/Artifact/ArtifactWriter.h"
#include "kuai/kuai_runtime.h"
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

static std::string readText(const char *path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

int main(int argc, char **argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: runtime_smoke kernel.ptx workdir\n");
    return 2;
  }
  std::string ptx = readText(argv[1]), dir = argv[2];
  std::string manifest = "{\"smoke\": true}";
  std::vector<float> weights(1 << 20, 1.0f); // 4 MiB
  std::string good = dir + "/good.kuai", bad = dir + "/bad.kuai";
  std::string broken = ".version 8.0\n.target sm_90\n.address_size 64\n"
                       ".visible .entry broken() { this is not ptx; }\n";
  for (auto [path, text] : {std::pair(good, &ptx), std::pair(bad, &broken)}) {
    kuai::ArtifactWriter w;
    w.addSection(KUAI_SECTION_MANIFEST, "manifest", manifest.data(),
                 manifest.size());
    w.addSection(KUAI_SECTION_WEIGHTS, "weights", weights.data(),
                 weights.size() * sizeof(float));
    w.addSection(KUAI_SECTION_PTX, "kernels", text->data(), text->size());
    if (std::string e = w.write(path); !e.empty()) {
      std::fprintf(stderr, "%s\n", e.c_str());
      return 2;
    }
  }
  kuai_runtime_options options;
  kuai_runtime_options_initialize(&options);
  kuai_runtime_t runtime = nullptr;
  if (kuai_status_t s = kuai_runtime_create(&options, &runtime)) {
    std::printf("runtime: FAIL %s\n", kuai_status_message(s));
    kuai_status_free(s);
    return 1;
  }
  std::printf("runtime: ok, %s\n", kuai_runtime_device_description(runtime));
  int failures = 0;
  kuai_model_t model = nullptr;
  if (kuai_status_t s = kuai_model_load(runtime, good.c_str(), &model)) {
    std::printf("good artifact: FAIL %s\n", kuai_status_message(s));
    kuai_status_free(s);
    ++failures;
  } else {
    std::printf("good artifact: ok, weights pool %llu bytes, PTX loaded\n",
                (unsigned long long)kuai_model_pool_bytes(model, "weights"));
    kuai_model_release(model);
  }
  if (kuai_status_t s = kuai_model_load(runtime, bad.c_str(), &model)) {
    std::printf("broken PTX: rejected as expected: %s\n",
                kuai_status_message(s));
    kuai_status_free(s);
  } else {
    std::printf("broken PTX: FAIL, it loaded\n");
    kuai_model_release(model);
    ++failures;
  }
  kuai_runtime_release(runtime);
  return failures ? 1 : 0;
}
