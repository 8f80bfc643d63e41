//===- generate_check.cpp - kuai_model_generate on the GPU ----------------===//
//
// Generates from token ids through the runtime's generation loop
// (kuai_model_generate, the token callback streaming each id) and prints
// "generated ids: ..." as kuai-run does, so test/gpu/decode_bundled_models.sh
// can compare the two. Built on the GPU machine against the runtime alone:
//
//   generate_check model.kuai 3,4,5 40 [temperature top_k top_p seed]
//
//===----------------------------------------------------------------------===//

#include "kuai/kuai_runtime.h"
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

static int fail(kuai_status_t s) {
  std::fprintf(stderr, "generate_check: %s\n", kuai_status_message(s));
  kuai_status_free(s);
  return 1;
}

int main(int argc, char **argv) {
  if (argc != 4 && argc != 8) {
    std::fprintf(stderr, "usage: generate_check model.kuai IDS N "
                         "[temperature top_k top_p seed]\n");
    return 2;
  }
  std::vector<int64_t> prompt;
  for (const char *p = argv[2]; *p;) {
    char *end = nullptr;
    prompt.push_back(std::strtoll(p, &end, 10));
    p = *end == ',' ? end + 1 : end;
  }
  kuai_runtime_options ro;
  kuai_runtime_options_initialize(&ro);
  kuai_runtime_t runtime = nullptr;
  if (kuai_status_t s = kuai_runtime_create(&ro, &runtime))
    return fail(s);
  kuai_model_t model = nullptr;
  kuai_status_t loaded = kuai_model_load(runtime, argv[1], &model);
  kuai_runtime_release(runtime);
  if (loaded)
    return fail(loaded);
  kuai_generate_options options;
  kuai_generate_options_initialize(&options);
  options.max_new_tokens = uint32_t(std::atoi(argv[3]));
  if (argc == 8) {
    options.sampling.temperature = float(std::atof(argv[4]));
    options.sampling.top_k = uint32_t(std::atoi(argv[5]));
    options.sampling.top_p = float(std::atof(argv[6]));
    options.sampling.seed = std::strtoull(argv[7], nullptr, 10);
  }
  kuai_kv_options kv;
  kuai_kv_options_initialize(&kv);
  kv.max_tokens = uint32_t(prompt.size() + options.max_new_tokens);
  uint32_t seq = 0;
  if (kuai_status_t s = kuai_model_kv_allocate(model, &kv))
    return fail(s);
  if (kuai_status_t s = kuai_model_sequence_begin(model, &seq))
    return fail(s);
  std::vector<int64_t> generated;
  auto collect = [](void *user, uint32_t, int64_t token) {
    static_cast<std::vector<int64_t> *>(user)->push_back(token);
    return 0;
  };
  if (kuai_status_t s =
          kuai_model_generate(model, &seq, 1, prompt.data(), prompt.size(),
                              &options, collect, &generated))
    return fail(s);
  std::printf("generated ids:");
  for (int64_t id : generated)
    std::printf(" %lld", (long long)id);
  std::printf("\n");
  kuai_model_release(model);
  return 0;
}
