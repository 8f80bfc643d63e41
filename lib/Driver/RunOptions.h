//===- RunOptions.h - Options of kuai-run -----------------------*- C++ -*-===//
#ifndef KUAI_LIB_DRIVER_RUNOPTIONS_H
#define KUAI_LIB_DRIVER_RUNOPTIONS_H

#include "kuai/Reference/Tensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"
#include <functional>
#include <memory>
#include <optional>

namespace kuai {

struct Options {
  llvm::cl::opt<std::string> model{
      llvm::cl::Positional,
      llvm::cl::desc("<model.onnx|model.mlir|model.kuai>"), llvm::cl::Required};
  llvm::cl::list<std::string> inputs{
      "input",
      llvm::cl::desc("Input tensor file (.pb or .npy), in "
                     "the order of the model's inputs"),
      llvm::cl::value_desc("file")};
  llvm::cl::list<std::string> expect{
      "expect",
      llvm::cl::desc(
          "ONNX test data set: inputs from DIR/input_*.pb, outputs "
          "compared with DIR/output_*.pb; repeat to check several sets "
          "with one import"),
      llvm::cl::value_desc("dir")};
  llvm::cl::opt<double> rtol{
      "rtol",
      llvm::cl::desc("Largest relative L2 error accepted (default "
                     "1e-5, or 1e-3 for models with fp16/bf16 "
                     "weights)"),
      llvm::cl::init(-1.0)};
  llvm::cl::opt<double> atol{
      "atol",
      llvm::cl::desc("Also accept an output whose max abs error is "
                     "at most this (default 0: off)"),
      llvm::cl::init(0.0)};
  llvm::cl::list<std::string> dims{
      "dim",
      llvm::cl::desc("Size of a symbolic dimension for random "
                     "inputs, e.g. --dim seq=16 (default 1)"),
      llvm::cl::value_desc("name=size")};
  llvm::cl::opt<uint64_t> seed{"seed", llvm::cl::desc("Seed of random inputs"),
                               llvm::cl::init(0)};
  llvm::cl::opt<int64_t> intMax{
      "int-max", llvm::cl::desc("Random integer inputs lie in [0, N)"),
      llvm::cl::init(100)};
  llvm::cl::opt<std::string> saveOutputs{
      "save-outputs", llvm::cl::desc("Write each output as DIR/<name>.npy"),
      llvm::cl::value_desc("dir")};
  llvm::cl::opt<bool> noFold{"no-fold",
                             llvm::cl::desc("Run the imported graph without "
                                            "kuai-graph-cleanup"),
                             llvm::cl::init(false)};
  llvm::cl::opt<bool> raise{
      "raise",
      llvm::cl::desc("Also run kuai-raise (transformer ops) "
                     "before executing"),
      llvm::cl::init(false)};
  llvm::cl::opt<unsigned> printValues{
      "print-values", llvm::cl::desc("Leading values printed per output"),
      llvm::cl::init(6)};
  // model.kuai (GPU) only.
  llvm::cl::opt<double> minTop1{
      "min-top1",
      llvm::cl::desc("model.kuai: also require this top-1 agreement (0..1) "
                     "over the last axis of float outputs of rank >= 2"),
      llvm::cl::init(0.0)};
  llvm::cl::opt<unsigned> bench{
      "bench",
      llvm::cl::desc("model.kuai: time N runs after 3 warm-up "
                     "runs; print the median, GB/s and "
                     "TFLOP/s"),
      llvm::cl::init(0), llvm::cl::value_desc("N")};
  llvm::cl::opt<bool> profile{
      "profile",
      llvm::cl::desc("model.kuai: print a table of kernels "
                     "(launches, time, share, GB/s, TFLOP/s)"),
      llvm::cl::init(false)};
  // Text: generation and perplexity of a causal LM (input_ids -> logits).
  llvm::cl::opt<std::string> prompt{
      "prompt",
      llvm::cl::desc("Generate a continuation of TEXT (tokenized with "
                     "--tokenizer) and stream it"),
      llvm::cl::value_desc("text")};
  llvm::cl::opt<std::string> promptIds{
      "prompt-ids",
      llvm::cl::desc("Generate from these token ids (comma-separated)"),
      llvm::cl::value_desc("ids")};
  llvm::cl::opt<std::string> tokenizer{
      "tokenizer",
      llvm::cl::desc("tokenizer.json (default: the one next to the model)"),
      llvm::cl::value_desc("file")};
  llvm::cl::opt<unsigned> maxNewTokens{
      "max-new-tokens", llvm::cl::desc("Tokens to generate (default 32)"),
      llvm::cl::init(32)};
  llvm::cl::opt<double> temperature{
      "temperature",
      llvm::cl::desc("Sampling temperature; 0 (default) is greedy"),
      llvm::cl::init(0.0)};
  llvm::cl::opt<unsigned> topK{
      "top-k", llvm::cl::desc("Sample among the K likeliest (0: all)"),
      llvm::cl::init(0)};
  llvm::cl::opt<double> topP{
      "top-p",
      llvm::cl::desc("Sample among the likeliest tokens whose "
                     "probabilities add up to P (1: all)"),
      llvm::cl::init(1.0)};
  llvm::cl::list<int64_t> stopIds{
      "stop-id", llvm::cl::desc("Stop when this token is generated"),
      llvm::cl::value_desc("id")};
  llvm::cl::opt<bool> noKvCache{
      "no-kv-cache",
      llvm::cl::desc("Generate by recomputing the whole sequence per token "
                     "instead of through kuai-kv-cache"),
      llvm::cl::init(false)};
  llvm::cl::opt<unsigned> kvPageSize{
      "kv-page-size", llvm::cl::desc("Tokens per KV cache page (default 16)"),
      llvm::cl::init(16)};
  llvm::cl::opt<bool> compareFullRecompute{
      "compare-full-recompute",
      llvm::cl::desc("Also recompute the whole sequence at every step and "
                     "compare its logits with the KV cache's (fails above "
                     "a relative L2 error of 1e-3)"),
      llvm::cl::init(false)};
  llvm::cl::opt<std::string> referenceModel{
      "reference-model",
      llvm::cl::desc("model.kuai with --compare-full-recompute: the ONNX "
                     "model whose reference executor recomputes each step"),
      llvm::cl::value_desc("model.onnx")};
  llvm::cl::opt<bool> benchDecode{
      "bench-decode",
      llvm::cl::desc("Time prefill (TTFT) and greedy decode steps of "
                     "--max-new-tokens for --batch copies of the prompt"),
      llvm::cl::init(false)};
  llvm::cl::opt<unsigned> batch{
      "batch", llvm::cl::desc("Sequences for --bench-decode (default 1)"),
      llvm::cl::init(1)};
  llvm::cl::opt<bool> printIds{"print-ids",
                               llvm::cl::desc("Also print the generated ids"),
                               llvm::cl::init(false)};
  llvm::cl::opt<std::string> perplexity{
      "perplexity",
      llvm::cl::desc("Perplexity over token ids in FILE.npy: window w is "
                     "tokens [w*W, w*W + W + 1), tokens 1..W of it are "
                     "predicted from the ones before"),
      llvm::cl::value_desc("file.npy")};
  llvm::cl::opt<unsigned> window{
      "window", llvm::cl::desc("Perplexity window W (default 256)"),
      llvm::cl::init(256)};
  llvm::cl::opt<unsigned> windows{
      "windows", llvm::cl::desc("Perplexity windows (default 400)"),
      llvm::cl::init(400)};
  llvm::cl::opt<unsigned> windowBatch{
      "window-batch", llvm::cl::desc("Perplexity windows per run (default 8)"),
      llvm::cl::init(8)};
};

/// Reads a .pb (TensorProto) or .npy tensor.
llvm::Expected<ref::Tensor> loadTensor(mlir::MLIRContext *ctx,
                                       llvm::StringRef path);
/// Prints "kuai-run: error: ..." and returns 2.
int runFail(const llvm::Twine &message);
/// Compares one output with the reference in `file` and prints the line
/// ("compare 'name': ok rel_l2 ..."). Returns std::nullopt when there is no
/// reference file, otherwise whether the output is within `rtol` / --atol
/// (and, with `top1`, --min-top1 over the last axis).
llvm::Expected<std::optional<bool>>
compareOutput(const Options &opts, mlir::MLIRContext &ctx,
              const ref::Tensor &actual, llvm::StringRef name,
              const std::string &file, double rtol, bool top1);
/// The closing line of a data set: 0 pass, 1 mismatch, 2 nothing compared.
int finishComparison(unsigned compared, bool allOk, const std::string &expect);
class Decoder;
/// kuai-run on a compiled model.kuai (the GPU runtime); `reference`
/// recomputes logits for --compare-full-recompute (may be null).
int runArtifact(Options &opts, mlir::MLIRContext &context, Decoder *reference);

/// Computes the logits [batch, seq, vocab] of token ids [batch, seq].
using LogitsFn = std::function<llvm::Expected<ref::Tensor>(
    const std::vector<int64_t> &ids, int64_t batch, int64_t seq)>;

/// Appends chunks of tokens to a batch of sequences and returns the logits
/// of each chunk: a prefill is one long chunk, a decode step a chunk of one.
class Decoder {
public:
  virtual ~Decoder() = default;
  /// Starts `batch` empty sequences of up to `capacity` tokens each.
  virtual llvm::Error start(int64_t batch, int64_t capacity) = 0;
  /// Appends ids [batch, n] (row-major); returns logits [batch, n, vocab].
  virtual llvm::Expected<ref::Tensor> append(const std::vector<int64_t> &ids,
                                             int64_t n) = 0;
  /// Appends like append() and returns each sequence's next token, picked
  /// from its last position's logits: greedy (the first maximum), or as
  /// sampleOnDevice() set up.
  virtual llvm::Expected<std::vector<int64_t>>
  appendPicked(const std::vector<int64_t> &ids, int64_t n);
  /// After start(): have appendPicked() sample (kuai/sampling.h) instead
  /// of picking greedily; false when the decoder cannot, and then the
  /// caller samples from append()'s logits.
  virtual bool sampleOnDevice(double /*temperature*/, unsigned /*topK*/,
                              double /*topP*/, uint64_t /*seed*/) {
    return false;
  }
  /// How the logits are computed, for the closing line.
  virtual std::string method() const = 0;
  /// Bytes of weights read per step and KV bytes per token (both 0 when
  /// unknown), for --bench-decode's bandwidth.
  virtual uint64_t weightBytes() const { return 0; }
  virtual uint64_t kvBytesPerToken() const { return 0; }
};

/// --bench-decode: prefill of the prompt and greedy decode steps for a
/// batch of copies of it, timed after one warm-up round.
int runDecodeBench(Options &opts, Decoder &decoder,
                   const std::vector<int64_t> &prompt);

/// Recomputes the whole sequence for every chunk (any causal LM).
std::unique_ptr<Decoder> makeRecomputeDecoder(LogitsFn logits);
/// The reference executor over a function rewritten by kuai-kv-cache.
llvm::Expected<std::unique_ptr<Decoder>>
makeReferenceCacheDecoder(mlir::func::FuncOp cached);

/// --prompt / --prompt-ids: streams a continuation; with `check`, the same
/// chunks also go through `check` and the logits are compared at each step
/// (--compare-full-recompute).
int runGeneration(Options &opts, Decoder &decoder, Decoder *check);
/// --perplexity: the windows protocol of ../shared/fixtures.
int runPerplexity(Options &opts, mlir::MLIRContext &context,
                  const LogitsFn &logits);

} // namespace kuai

#endif
