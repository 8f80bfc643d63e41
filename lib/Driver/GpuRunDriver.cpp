//===- GpuRunDriver.cpp - kuai-run on a compiled model.kuai ---------------===//
//
// Runs a compiled model through the runtime's C API: inputs from a test
// data set, files or random values (converted to the compiled dtypes),
// outputs compared with references (relative L2, max abs, and top-1
// agreement over the last axis for logits), optional timing (--bench) and
// a per-kernel profile (--profile). Exit status as for the reference path.
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "kuai/Reference/TensorIO.h"
#include "kuai/kuai_runtime.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Format.h"
#include <algorithm>
#include <chrono>
#include <map>

using namespace mlir;
using namespace kuai;

namespace {

/// Owns a kuai_status_t; false when it holds an error.
struct StatusCheck {
  kuai_status_t status;
  explicit operator bool() const { return status == nullptr; }
  std::string message() const { return kuai_status_message(status); }
  ~StatusCheck() { kuai_status_free(status); }
};

struct Io {
  std::string name, dtype;
  size_t rank;
};

Io ioInfo(kuai_model_t model, bool output, size_t i) {
  const char *name = "", *dtype = "";
  size_t rank = 0;
  kuai_status_free(kuai_model_io_info(model, output, i, &name, &dtype, &rank));
  return {name, dtype, rank};
}

/// Bytes per element of a runtime element type name.
size_t elementBytes(const std::string &dtype) {
  if (dtype == "f32" || dtype == "i32")
    return 4;
  if (dtype == "i64")
    return 8;
  return dtype == "f16" || dtype == "bf16" ? 2 : 1;
}

/// The tensor's values in the bytes of `dtype`.
std::vector<char> encode(const ref::Tensor &t, const std::string &dtype) {
  int64_t n = t.numel();
  std::vector<char> out;
  auto put = [&](const void *p, size_t bytes) {
    const char *c = static_cast<const char *>(p);
    out.insert(out.end(), c, c + bytes);
  };
  for (int64_t i = 0; i < n; ++i) {
    double v = t.at(i);
    if (dtype == "f32") {
      float f = float(v);
      put(&f, 4);
    } else if (dtype == "f16") {
      uint16_t h = ref::floatToHalf(float(v));
      put(&h, 2);
    } else if (dtype == "bf16") {
      uint16_t h = ref::floatToBFloat16(float(v));
      put(&h, 2);
    } else if (dtype == "i64") {
      int64_t x = int64_t(v);
      put(&x, 8);
    } else if (dtype == "i32") {
      int32_t x = int32_t(v);
      put(&x, 4);
    } else {
      int8_t x = int8_t(v);
      put(&x, 1);
    }
  }
  return out;
}

/// GPU bytes of `dtype` as a reference tensor (floats as f32, integers as
/// i64) for comparison and saving.
ref::Tensor decode(MLIRContext &ctx, const std::vector<char> &bytes,
                   const std::string &dtype, std::vector<int64_t> shape) {
  Builder b(&ctx);
  bool fl = dtype == "f32" || dtype == "f16" || dtype == "bf16";
  ref::Tensor t(fl ? Type(b.getF32Type()) : Type(b.getI64Type()), shape);
  int64_t n = t.numel();
  const char *p = bytes.data();
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == "f32") {
      std::memcpy(&t.floats[i], p + 4 * i, 4);
    } else if (dtype == "f16" || dtype == "bf16") {
      uint16_t h;
      std::memcpy(&h, p + 2 * i, 2);
      t.floats[i] =
          dtype == "f16" ? ref::halfToFloat(h) : ref::bfloat16ToFloat(h);
    } else if (dtype == "i64") {
      std::memcpy(&t.ints[i], p + 8 * i, 8);
    } else if (dtype == "i32") {
      int32_t x;
      std::memcpy(&x, p + 4 * i, 4);
      t.ints[i] = x;
    } else {
      t.ints[i] =
          dtype == "u8" || dtype == "bool" ? uint8_t(p[i]) : int8_t(p[i]);
    }
  }
  return t;
}

std::string manifestField(kuai_artifact_t a, const std::string &key) {
  std::string m = kuai_artifact_manifest(a);
  size_t at = m.find("\"" + key + "\": \"");
  if (at == std::string::npos)
    return "";
  at += key.size() + 5;
  return m.substr(at, m.find('"', at) - at);
}

int runSet(Options &opts, MLIRContext &context, kuai_model_t model,
           const std::string &expect, const std::string &compiledDtype) {
  size_t numInputs = kuai_model_input_count(model);
  std::vector<std::string> files(opts.inputs.begin(), opts.inputs.end());
  if (!expect.empty() && files.empty())
    for (size_t i = 0; i < numInputs; ++i)
      files.push_back(expect + "/input_" + std::to_string(i) + ".pb");
  if (!files.empty() && files.size() != numInputs)
    return runFail("the model has " + llvm::Twine(numInputs) + " inputs but " +
                   llvm::Twine(files.size()) + " input files were given");
  for (size_t i = 0; i < numInputs; ++i) {
    Io io = ioInfo(model, false, i);
    ref::Tensor t;
    if (!files.empty()) {
      auto loaded = loadTensor(&context, files[i]);
      if (!loaded)
        return runFail(llvm::toString(loaded.takeError()));
      t = std::move(*loaded);
    } else {
      return runFail("random inputs for model.kuai are not supported yet; "
                     "give --expect DIR or --input files (.pb, .npy)");
    }
    std::vector<char> bytes = encode(t, io.dtype);
    llvm::outs() << "input  '" << io.name << "' " << t.shapeString() << " -> "
                 << io.dtype << "\n";
    StatusCheck s{kuai_model_set_input(model, i, bytes.data(), t.shape.data(),
                                       t.shape.size())};
    if (!s)
      return runFail(s.message());
  }
  auto start = std::chrono::steady_clock::now();
  {
    StatusCheck s{kuai_model_execute(model)};
    if (!s)
      return runFail(s.message());
  }
  double ms = std::chrono::duration<double, std::milli>(
                  std::chrono::steady_clock::now() - start)
                  .count();
  llvm::outs() << "ran on the GPU in " << llvm::format("%.2f", ms)
               << " ms (first run, includes input upload)\n";

  bool allOk = true;
  unsigned compared = 0;
  for (size_t i = 0; i < kuai_model_output_count(model); ++i) {
    Io io = ioInfo(model, true, i);
    std::vector<int64_t> shape(io.rank);
    size_t rank = 0;
    StatusCheck sd{
        kuai_model_output_dims(model, i, shape.data(), shape.size(), &rank)};
    if (!sd)
      return runFail(sd.message());
    int64_t count = 1;
    for (int64_t d : shape)
      count *= d;
    std::vector<char> bytes(count * elementBytes(io.dtype));
    StatusCheck sr{
        kuai_model_read_output(model, i, bytes.data(), bytes.size())};
    if (!sr)
      return runFail(sr.message());
    ref::Tensor t = decode(context, bytes, io.dtype, shape);
    llvm::outs() << "output '" << io.name << "' " << t.shapeString() << " "
                 << io.dtype << ":";
    for (int64_t k = 0; k < std::min<int64_t>(t.numel(), opts.printValues); ++k)
      llvm::outs() << " " << llvm::format("%.6g", t.at(k));
    llvm::outs() << (t.numel() > opts.printValues ? " ...\n" : "\n");
    if (!opts.saveOutputs.empty()) {
      llvm::sys::fs::create_directories(opts.saveOutputs);
      std::string name = io.name;
      std::replace(name.begin(), name.end(), '/', '_');
      if (llvm::Error e =
              ref::writeNpy(t, opts.saveOutputs + "/" + name + ".npy"))
        return runFail(llvm::toString(std::move(e)));
    }
    if (expect.empty())
      continue;
    // Defaults: 1e-4 for fp32, 5e-3 for a model stored in fp16/bf16, 1e-2
    // when compiled down to fp16/bf16.
    double rtol = opts.rtol >= 0 ? double(opts.rtol)
                  : compiledDtype == "fp16" || compiledDtype == "bf16" ? 1e-2
                  : io.dtype == "f16" || io.dtype == "bf16"            ? 5e-3
                                                                       : 1e-4;
    auto ok = compareOutput(opts, context, t, io.name,
                            expect + "/output_" + std::to_string(i) + ".pb",
                            rtol, /*top1=*/true);
    if (!ok)
      return runFail(llvm::toString(ok.takeError()));
    if (!*ok)
      continue;
    ++compared;
    allOk &= **ok;
  }
  return expect.empty() ? 0 : finishComparison(compared, allOk, expect);
}

int benchAndProfile(Options &opts, kuai_model_t model) {
  std::vector<kuai_launch_profile> launches(100000);
  size_t count = 0;
  StatusCheck s{
      kuai_model_profile(model, launches.data(), launches.size(), &count)};
  if (!s)
    return runFail(s.message());
  launches.resize(std::min(count, launches.size()));
  double bytes = 0, flops = 0, kernelMs = 0;
  for (const kuai_launch_profile &l : launches) {
    bytes += l.bytes;
    flops += l.flops;
    kernelMs += l.milliseconds;
  }
  if (opts.bench) {
    for (int i = 0; i < 3; ++i)
      kuai_status_free(kuai_model_execute(model));
    std::vector<double> times;
    for (unsigned i = 0; i < opts.bench; ++i) {
      auto start = std::chrono::steady_clock::now();
      StatusCheck r{kuai_model_execute(model)};
      if (!r)
        return runFail(r.message());
      times.push_back(std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - start)
                          .count());
    }
    std::sort(times.begin(), times.end());
    double median = times[times.size() / 2];
    llvm::outs() << llvm::format(
        "bench: %u runs, median %.3f ms (min %.3f, max %.3f), %zu launches; "
        "%.1f GB/s, %.2f TFLOP/s (estimated bytes and flops of the plan)\n",
        unsigned(opts.bench), median, times.front(), times.back(),
        launches.size(), bytes / median / 1e6, flops / median / 1e9);
  }
  if (opts.profile) {
    struct Row {
      int launches = 0;
      double ms = 0, bytes = 0, flops = 0;
    };
    std::map<std::string, Row> rows;
    for (const kuai_launch_profile &l : launches) {
      Row &r = rows[std::string(l.function) + " (" + l.what + ")"];
      ++r.launches;
      r.ms += l.milliseconds;
      r.bytes += l.bytes;
      r.flops += l.flops;
    }
    std::vector<std::pair<std::string, Row>> sorted(rows.begin(), rows.end());
    std::sort(sorted.begin(), sorted.end(), [](const auto &a, const auto &b) {
      return a.second.ms > b.second.ms;
    });
    llvm::outs() << llvm::format("%-44s %8s %10s %7s %9s %9s\n", "kernel",
                                 "launches", "ms", "share", "GB/s", "TFLOP/s");
    for (const auto &[name, r] : sorted)
      llvm::outs() << llvm::format("%-44s %8d %10.4f %6.1f%% %9.1f %9.3f\n",
                                   name.substr(0, 44).c_str(), r.launches, r.ms,
                                   kernelMs > 0 ? 100 * r.ms / kernelMs : 0.0,
                                   r.ms > 0 ? r.bytes / r.ms / 1e6 : 0.0,
                                   r.ms > 0 ? r.flops / r.ms / 1e9 : 0.0);
    llvm::outs() << llvm::format("%-44s %8zu %10.4f\n", "total (events)",
                                 launches.size(), kernelMs);
  }
  return 0;
}

/// Logits [batch, n, vocab] of output 0 after a run, as fp32.
llvm::Expected<ref::Tensor> readLogits(MLIRContext &context,
                                       kuai_model_t model) {
  Io io = ioInfo(model, true, 0);
  std::vector<int64_t> shape(io.rank);
  size_t rank = 0;
  if (StatusCheck s{
          kuai_model_output_dims(model, 0, shape.data(), shape.size(), &rank)};
      !s)
    return llvm::createStringError(s.message());
  if (rank != 3)
    return llvm::createStringError("output '" + io.name +
                                   "' is not logits [batch, seq, vocab]");
  std::vector<char> bytes(shape[0] * shape[1] * shape[2] *
                          elementBytes(io.dtype));
  if (StatusCheck s{
          kuai_model_read_output(model, 0, bytes.data(), bytes.size())};
      !s)
    return llvm::createStringError(s.message());
  return decode(context, bytes, io.dtype, shape);
}

/// Generation on the GPU through the model's paged KV cache.
class GpuCacheDecoder : public Decoder {
public:
  GpuCacheDecoder(MLIRContext &context, kuai_model_t model, uint32_t page)
      : context(context), model(model), page(page) {}

  llvm::Error start(int64_t batch, int64_t capacity) override {
    // Reuse the pool (and the CUDA graphs captured over it) when it fits.
    if (batch != allocatedBatch || capacity != allocatedTokens) {
      kuai_kv_options options;
      kuai_kv_options_initialize(&options);
      options.max_sequences = uint32_t(batch);
      options.max_tokens = uint32_t(capacity);
      if (StatusCheck s{kuai_model_kv_allocate(model, &options)}; !s)
        return llvm::createStringError(s.message());
      allocatedBatch = batch;
      allocatedTokens = capacity;
    } else {
      for (uint32_t seq : sequences)
        kuai_status_free(kuai_model_sequence_end(model, seq));
    }
    sequences.assign(batch, 0);
    for (uint32_t &seq : sequences)
      if (StatusCheck s{kuai_model_sequence_begin(model, &seq)}; !s)
        return llvm::createStringError(s.message());
    return llvm::Error::success();
  }

  llvm::Expected<ref::Tensor> append(const std::vector<int64_t> &ids,
                                     int64_t n) override {
    if (StatusCheck s{kuai_model_append(model, sequences.data(),
                                        sequences.size(), ids.data(), n)};
        !s)
      return llvm::createStringError(s.message());
    return readLogits(context, model);
  }

  bool sampleOnDevice(double temperature, unsigned topK, double topP,
                      uint64_t seed) override {
    kuai_sampling_options options;
    kuai_sampling_options_initialize(&options);
    options.temperature = float(temperature);
    options.top_k = topK;
    options.top_p = float(topP);
    options.seed = seed;
    for (uint32_t seq : sequences)
      if (StatusCheck s{kuai_model_sequence_sampling(model, seq, &options)}; !s)
        return false; // an older artifact: the host picks from the logits
    return true;
  }

  /// Reads back the model's next_token output (picked on the GPU), not
  /// the logits.
  llvm::Expected<std::vector<int64_t>>
  appendPicked(const std::vector<int64_t> &ids, int64_t n) override {
    if (StatusCheck s{kuai_model_append(model, sequences.data(),
                                        sequences.size(), ids.data(), n)};
        !s)
      return llvm::createStringError(s.message());
    std::vector<int32_t> all(sequences.size() * n);
    if (StatusCheck s{
            kuai_model_read_output(model, 1, all.data(), all.size() * 4)};
        !s)
      return llvm::createStringError(s.message());
    std::vector<int64_t> next(sequences.size());
    for (size_t b = 0; b < next.size(); ++b)
      next[b] = all[b * n + n - 1];
    return next;
  }

  std::string method() const override {
    return "GPU, KV cache, pages of " + std::to_string(page) + " tokens";
  }
  uint64_t weightBytes() const override {
    return kuai_model_pool_bytes(model, "weights");
  }
  uint64_t kvBytesPerToken() const override {
    uint64_t perToken = 0;
    kuai_status_free(kuai_model_kv_info(model, nullptr, &perToken, nullptr));
    return perToken;
  }

private:
  MLIRContext &context;
  kuai_model_t model;
  uint32_t page;
  std::vector<uint32_t> sequences;
  int64_t allocatedBatch = 0, allocatedTokens = 0;
};

/// --prompt / --perplexity on model.kuai.
int runText(Options &opts, MLIRContext &context, kuai_model_t model,
            Decoder *reference) {
  uint32_t page = 0;
  uint64_t perToken = 0;
  uint32_t layers = 0;
  bool cached = kuai_model_kv_info(model, &page, &perToken, &layers) == nullptr;
  std::unique_ptr<Decoder> decoder;
  if (cached) {
    llvm::outs() << "KV cache: " << layers << " layers, " << perToken
                 << " bytes per token, pages of " << page << " tokens\n";
    decoder = std::make_unique<GpuCacheDecoder>(context, model, page);
  } else {
    size_t inputs = kuai_model_input_count(model);
    if (inputs != 1)
      return runFail("text needs a causal LM with one input (token ids) or "
                     "one compiled with --kv-cache; it has " +
                     llvm::Twine(inputs) + " inputs");
    Io ids = ioInfo(model, false, 0);
    decoder = makeRecomputeDecoder(
        [&, ids](const std::vector<int64_t> &tokens, int64_t batch,
                 int64_t seq) -> llvm::Expected<ref::Tensor> {
          int64_t dims[2] = {batch, seq};
          std::vector<int32_t> narrow(tokens.begin(), tokens.end());
          const void *data = ids.dtype == "i32" ? (const void *)narrow.data()
                                                : (const void *)tokens.data();
          if (StatusCheck s{kuai_model_set_input(model, 0, data, dims, 2)}; !s)
            return llvm::createStringError(s.message());
          if (StatusCheck s{kuai_model_execute(model)}; !s)
            return llvm::createStringError(s.message());
          return readLogits(context, model);
        });
  }
  if (opts.compareFullRecompute && !reference)
    return runFail("--compare-full-recompute on model.kuai needs "
                   "--reference-model model.onnx (the reference executor "
                   "recomputes every step)");
  if (!opts.perplexity.empty()) {
    // A window is a fresh sequence of each decoder.
    LogitsFn logits = [&](const std::vector<int64_t> &ids, int64_t batch,
                          int64_t seq) -> llvm::Expected<ref::Tensor> {
      if (llvm::Error e = decoder->start(batch, seq))
        return std::move(e);
      return decoder->append(ids, seq);
    };
    return runPerplexity(opts, context, logits);
  }
  int status = runGeneration(opts, *decoder,
                             opts.compareFullRecompute ? reference : nullptr);
  if (status == 0 && opts.profile) {
    // The plan's last inputs: a decode step of the last round.
    unsigned bench = opts.bench;
    opts.bench = 0;
    status = benchAndProfile(opts, model);
    opts.bench = bench;
  }
  return status;
}

} // namespace

int kuai::runArtifact(Options &opts, MLIRContext &context, Decoder *reference) {
  kuai_artifact_t artifact = nullptr;
  if (StatusCheck s{kuai_artifact_open(opts.model.c_str(), &artifact)}; !s)
    return runFail(s.message());
  std::string dtype = manifestField(artifact, "dtype");
  kuai_artifact_release(artifact);

  kuai_runtime_options options;
  kuai_runtime_options_initialize(&options);
  kuai_runtime_t runtime = nullptr;
  if (StatusCheck s{kuai_runtime_create(&options, &runtime)}; !s)
    return runFail(s.message());
  llvm::outs() << "device: " << kuai_runtime_device_description(runtime)
               << "\n";
  kuai_model_t model = nullptr;
  StatusCheck loaded{kuai_model_load(runtime, opts.model.c_str(), &model)};
  kuai_runtime_release(runtime); // the model keeps it alive
  if (!loaded)
    return runFail(loaded.message());
  llvm::outs() << "loaded " << opts.model << ": weights "
               << kuai_model_pool_bytes(model, "weights") << " bytes, arena "
               << kuai_model_pool_bytes(model, "arena") << " bytes\n";
  if (!opts.prompt.empty() || !opts.promptIds.empty() ||
      !opts.perplexity.empty()) {
    int status = runText(opts, context, model, reference);
    if (opts.benchDecode)
      llvm::outs() << "GPU memory by pool: weights "
                   << kuai_model_pool_bytes(model, "weights")
                   << " bytes, arena " << kuai_model_pool_bytes(model, "arena")
                   << " bytes, kv " << kuai_model_pool_bytes(model, "kv")
                   << " bytes\n";
    kuai_model_release(model);
    return status;
  }
  int status = 0;
  std::vector<std::string> sets(opts.expect.begin(), opts.expect.end());
  if (sets.empty())
    sets.push_back("");
  for (const std::string &dir : sets) {
    if (!dir.empty())
      llvm::outs() << "== " << dir << "\n";
    status = std::max(status, runSet(opts, context, model, dir, dtype));
    if (status == 2)
      break;
  }
  if (status != 2 && (opts.bench || opts.profile))
    status = std::max(status, benchAndProfile(opts, model));
  if (sets.size() > 1 && status != 2)
    llvm::outs() << (status == 0 ? "PASS" : "FAIL") << ": " << sets.size()
                 << " data sets\n";
  kuai_model_release(model);
  return status;
}
