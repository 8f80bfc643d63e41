//===- TextDriver.cpp - kuai-run --prompt and --perplexity ----------------===//
//
// Text generation and perplexity for causal LMs (token ids in, logits
// [batch, seq, vocab] out), over any way of computing the logits: kuai-run
// hands in the reference executor, through a KV cache (kuai-kv-cache) or by
// recomputing the whole sequence at every step (ReferenceDecoder.cpp).
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "kuai/Reference/TensorIO.h"
#include "kuai/kuai_runtime.h"
#include "kuai/sampling.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

using namespace kuai;

namespace {

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since)
      .count();
}

/// Owns a tokenizer handle.
struct TokenizerHandle {
  kuai_tokenizer_t t = nullptr;
  ~TokenizerHandle() { kuai_tokenizer_release(t); }
};

/// log(sum(exp(row))), in double.
double logSumExp(const float *row, int64_t n) {
  double m = *std::max_element(row, row + n), s = 0;
  for (int64_t i = 0; i < n; ++i)
    s += std::exp(double(row[i]) - m);
  return m + std::log(s);
}

} // namespace

llvm::Expected<std::vector<int64_t>>
Decoder::appendPicked(const std::vector<int64_t> &ids, int64_t n) {
  auto out = append(ids, n);
  if (!out)
    return out.takeError();
  int64_t batch = out->shape[0], vocab = out->shape[2];
  std::vector<int64_t> next(batch);
  for (int64_t b = 0; b < batch; ++b) {
    const float *row = out->floats.data() + (b * n + n - 1) * vocab;
    next[b] = std::max_element(row, row + vocab) - row;
  }
  return next;
}

int kuai::runDecodeBench(Options &opts, Decoder &decoder,
                         const std::vector<int64_t> &prompt) {
  int64_t batch = std::max<unsigned>(1, opts.batch), length = prompt.size(),
          steps = opts.maxNewTokens;
  if (steps < 2)
    return runFail("--bench-decode needs --max-new-tokens >= 2");
  std::vector<int64_t> ids;
  for (int64_t b = 0; b < batch; ++b)
    ids.insert(ids.end(), prompt.begin(), prompt.end());
  double ttft = 0;
  std::vector<double> times;
  // Round 0 warms up: CUDA graphs of the prefill and decode sizes.
  for (int round = 0; round < 2; ++round) {
    if (llvm::Error e = decoder.start(batch, length + steps))
      return runFail(llvm::toString(std::move(e)));
    auto start = std::chrono::steady_clock::now();
    auto next = decoder.appendPicked(ids, length);
    if (!next)
      return runFail(llvm::toString(next.takeError()));
    ttft = seconds(start);
    times.clear();
    for (int64_t step = 1; step < steps; ++step) {
      auto t = std::chrono::steady_clock::now();
      next = decoder.appendPicked(*next, 1);
      if (!next)
        return runFail(llvm::toString(next.takeError()));
      times.push_back(seconds(t));
    }
  }
  double total = std::accumulate(times.begin(), times.end(), 0.0);
  double mean = total / times.size();
  std::vector<double> sorted = times;
  std::sort(sorted.begin(), sorted.end());
  double median = sorted[sorted.size() / 2];
  // A step reads every weight once and the KV cache of each sequence (at
  // the mean context of the decode steps).
  double context = double(length) + double(steps) / 2;
  double bytes = double(decoder.weightBytes()) +
                 double(batch) * context * double(decoder.kvBytesPerToken());
  llvm::outs() << llvm::format(
      "bench-decode: batch %lld, prompt %lld, %lld new tokens per sequence "
      "(greedy), %s\n",
      (long long)batch, (long long)length, (long long)steps,
      decoder.method().c_str());
  llvm::outs() << llvm::format("  TTFT %.3f ms (prefill of %lld tokens)\n",
                               1e3 * ttft, (long long)(batch * length));
  llvm::outs() << llvm::format(
      "  decode: %.3f ms per output token (median %.3f, min %.3f), %.1f "
      "tokens/s over the batch\n",
      1e3 * mean, 1e3 * median, 1e3 * sorted.front(), batch / mean);
  if (bytes > 0)
    llvm::outs() << llvm::format(
        "  bytes read per step %.3f GB (weights %.3f GB + KV at mean "
        "context %.0f): %.1f GB/s achieved, %.1f%% of 3.0 TB/s\n",
        bytes / 1e9, decoder.weightBytes() / 1e9, context, bytes / mean / 1e9,
        100 * bytes / mean / 3.0e12);
  if (decoder.kvBytesPerToken())
    llvm::outs() << "  KV bytes per token " << decoder.kvBytesPerToken()
                 << "\n";
  return 0;
}

int kuai::runGeneration(Options &opts, Decoder &decoder, Decoder *check) {
  TokenizerHandle tok;
  std::string path = opts.tokenizer;
  if (path.empty()) {
    llvm::SmallString<256> p(llvm::sys::path::parent_path(opts.model));
    llvm::sys::path::append(p, "tokenizer.json");
    path = std::string(p);
  }
  bool needTokenizer = !opts.prompt.empty();
  if (kuai_status_t s = kuai_tokenizer_load(path.c_str(), &tok.t)) {
    std::string message = kuai_status_message(s);
    kuai_status_free(s);
    if (needTokenizer)
      return runFail(message + " (give one with --tokenizer)");
  }
  std::vector<int64_t> ids;
  if (!opts.promptIds.empty()) {
    llvm::SmallVector<llvm::StringRef> parts;
    llvm::StringRef(opts.promptIds).split(parts, ',', -1, false);
    for (llvm::StringRef part : parts) {
      int64_t id;
      if (part.trim().getAsInteger(10, id) || id < 0)
        return runFail("--prompt-ids: '" + part + "' is not a token id");
      ids.push_back(id);
    }
  } else {
    size_t count = 0;
    if (kuai_status_t s = kuai_tokenizer_encode(
            tok.t, opts.prompt.data(), opts.prompt.size(), nullptr, 0, &count))
      return runFail(kuai_status_message(s));
    std::vector<int32_t> encoded(count);
    kuai_status_free(kuai_tokenizer_encode(tok.t, opts.prompt.data(),
                                           opts.prompt.size(), encoded.data(),
                                           count, &count));
    ids.assign(encoded.begin(), encoded.end());
  }
  if (ids.empty())
    return runFail("the prompt has no tokens");
  if (tok.t)
    for (int64_t id : ids)
      if (size_t(id) >= kuai_tokenizer_vocab_size(tok.t))
        return runFail("prompt token " + llvm::Twine(id) +
                       " is outside the tokenizer's vocabulary");

  auto decode = [&](const std::vector<int32_t> &part) {
    size_t length = 0;
    kuai_status_free(kuai_tokenizer_decode(tok.t, part.data(), part.size(),
                                           nullptr, 0, &length));
    std::string text(length, '\0');
    kuai_status_free(kuai_tokenizer_decode(tok.t, part.data(), part.size(),
                                           text.data(), length, &length));
    return text;
  };
  if (opts.benchDecode)
    return runDecodeBench(opts, decoder, ids);
  if (tok.t) {
    llvm::outs() << decode(std::vector<int32_t>(ids.begin(), ids.end()));
    llvm::outs().flush();
  }
  std::vector<int32_t> generated;
  size_t printed = 0;
  int64_t capacity = int64_t(ids.size()) + opts.maxNewTokens;
  for (Decoder *d : {&decoder, check})
    if (d)
      if (llvm::Error e = d->start(1, capacity))
        return runFail(llvm::toString(std::move(e)));
  // Greedy, or sampling the decoder does itself (on the GPU): ids only.
  bool decoderPicks =
      !check && (opts.temperature <= 0 ||
                 decoder.sampleOnDevice(opts.temperature, opts.topK, opts.topP,
                                        opts.seed));
  // The largest relative L2 distance of the two decoders' logits per step.
  double worst = 0;
  unsigned compared = 0;
  auto start = std::chrono::steady_clock::now();
  std::vector<int64_t> chunk = ids;
  for (unsigned step = 0; step < opts.maxNewTokens; ++step) {
    int64_t n = chunk.size(), next;
    if (decoderPicks) {
      auto picked = decoder.appendPicked(chunk, n);
      if (!picked)
        return runFail(llvm::toString(picked.takeError()));
      next = picked->front();
    } else {
      auto out = decoder.append(chunk, n);
      if (!out)
        return runFail(llvm::toString(out.takeError()));
      if (check) {
        auto expected = check->append(chunk, n);
        if (!expected)
          return runFail(llvm::toString(expected.takeError()));
        double err = 0, norm = 0;
        for (size_t i = 0; i < expected->floats.size(); ++i) {
          double diff = double(out->floats[i]) - expected->floats[i];
          err += diff * diff;
          norm += double(expected->floats[i]) * expected->floats[i];
        }
        worst = std::max(worst, std::sqrt(err / std::max(norm, 1e-30)));
        ++compared;
      }
      int64_t vocab = out->shape.back();
      // The same sampling as the GPU's (kuai/sampling.h): step-th uniform
      // of the seed, top-k and top-p cuts.
      next = samplePick(out->floats.data() + (n - 1) * vocab, vocab,
                        opts.temperature, opts.topK, opts.topP,
                        samplingUniform(opts.seed, step));
    }
    ids.push_back(next);
    chunk = {next};
    generated.push_back(int32_t(next));
    if (tok.t) {
      // Decode all of it each time: a character may span tokens.
      std::string text = decode(generated);
      llvm::outs() << text.substr(std::min(printed, text.size()));
      llvm::outs().flush();
      printed = text.size();
    }
    if (llvm::is_contained(opts.stopIds, next))
      break;
  }
  double s = seconds(start);
  llvm::outs() << "\n";
  if (opts.printIds || !tok.t) {
    llvm::outs() << "generated ids:";
    for (int32_t id : generated)
      llvm::outs() << " " << id;
    llvm::outs() << "\n";
  }
  llvm::outs() << "generated " << generated.size() << " tokens in "
               << llvm::format("%.2f", s) << " s ("
               << llvm::format("%.2f", generated.size() / s) << " tokens/s, "
               << decoder.method() << ")\n";
  if (check) {
    constexpr double limit = 1e-3;
    bool ok = worst <= limit;
    llvm::outs() << (ok ? "ok" : "FAIL") << ": " << decoder.method() << " vs "
                 << check->method() << ": largest relative L2 of the logits "
                 << llvm::format("%.3g", worst) << " over " << compared
                 << " steps (limit " << llvm::format("%g", limit) << ")\n";
    return ok ? 0 : 1;
  }
  return 0;
}

int kuai::runPerplexity(Options &opts, mlir::MLIRContext &context,
                        const LogitsFn &logits) {
  auto tokens = loadTensor(&context, opts.perplexity);
  if (!tokens)
    return runFail(llvm::toString(tokens.takeError()));
  if (tokens->isFloat() || tokens->rank() != 1)
    return runFail(opts.perplexity +
                   ": expected a 1-D array of token ids, got " +
                   tokens->shapeString());
  const int64_t w = opts.window, count = opts.windows;
  int64_t available =
      (int64_t(tokens->ints.size()) - 1) / std::max<int64_t>(w, 1);
  if (w <= 0 || count <= 0 || count > available)
    return runFail(opts.perplexity + " holds " +
                   llvm::Twine(tokens->ints.size()) +
                   " tokens: " + llvm::Twine(available) + " windows of " +
                   llvm::Twine(w) + ", not " + llvm::Twine(count));
  double nll = 0;
  auto start = std::chrono::steady_clock::now();
  for (int64_t first = 0; first < count; first += opts.windowBatch) {
    int64_t batch = std::min<int64_t>(opts.windowBatch, count - first);
    std::vector<int64_t> ids;
    for (int64_t b = 0; b < batch; ++b)
      ids.insert(ids.end(), tokens->ints.begin() + (first + b) * w,
                 tokens->ints.begin() + (first + b) * w + w);
    auto out = logits(ids, batch, w);
    if (!out)
      return runFail(llvm::toString(out.takeError()));
    int64_t vocab = out->shape.back();
    for (int64_t b = 0; b < batch; ++b)
      for (int64_t t = 0; t < w; ++t) {
        const float *row = out->floats.data() + (b * w + t) * vocab;
        int64_t target = tokens->ints[(first + b) * w + t + 1];
        if (target < 0 || target >= vocab)
          return runFail("token " + llvm::Twine(target) +
                         " is outside the model's vocabulary of " +
                         llvm::Twine(vocab));
        nll += logSumExp(row, vocab) - row[target];
      }
  }
  double mean = nll / double(count * w);
  llvm::outs() << "perplexity " << llvm::format("%.4f", std::exp(mean))
               << " (mean NLL " << llvm::format("%.6f", mean) << ") over "
               << count << " windows of " << w << " predicted tokens in "
               << llvm::format("%.1f", seconds(start)) << " s\n";
  return 0;
}
