//===- ReferenceDecoder.cpp - Generation on the reference executor --------===//
//
// Two ways kuai-run computes the logits of appended tokens without a GPU: by
// recomputing the whole sequence (any causal LM), and through the function
// kuai-kv-cache made, whose KV pages this decoder owns and passes back in at
// every step.
//
//===----------------------------------------------------------------------===//

#include "RunOptions.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "kuai/Reference/Executor.h"
#include "mlir/IR/Builders.h"

using namespace mlir;
using namespace kuai;

namespace {

class RecomputeDecoder : public Decoder {
public:
  explicit RecomputeDecoder(LogitsFn logits) : logits(std::move(logits)) {}

  llvm::Error start(int64_t batch, int64_t capacity) override {
    history.assign(batch, {});
    return llvm::Error::success();
  }

  llvm::Expected<ref::Tensor> append(const std::vector<int64_t> &ids,
                                     int64_t n) override {
    int64_t batch = history.size();
    for (int64_t b = 0; b < batch; ++b)
      history[b].insert(history[b].end(), ids.begin() + b * n,
                        ids.begin() + (b + 1) * n);
    int64_t length = history[0].size();
    std::vector<int64_t> all;
    for (const auto &h : history)
      all.insert(all.end(), h.begin(), h.end());
    auto out = logits(all, batch, length);
    if (!out)
      return out.takeError();
    // Keep the chunk's rows.
    int64_t vocab = out->shape.back();
    ref::Tensor chunk(out->elementType, {batch, n, vocab});
    for (int64_t b = 0; b < batch; ++b)
      std::copy_n(out->floats.begin() + (b * length + length - n) * vocab,
                  n * vocab, chunk.floats.begin() + b * n * vocab);
    return chunk;
  }

  std::string method() const override { return "full recomputation per token"; }

private:
  LogitsFn logits;
  std::vector<std::vector<int64_t>> history;
};

/// Inputs of a kuai-kv-cache function: ids, past lengths, block table, then
/// key and value pages per layer; outputs: logits, then the updated pages,
/// each naming the input it replaces with `kuai.updates`.
class ReferenceCacheDecoder : public Decoder {
public:
  ReferenceCacheDecoder(func::FuncOp func, int64_t pageSize)
      : func(func), executor(func), pageSize(pageSize) {}

  llvm::Error start(int64_t batch, int64_t capacity) override {
    int64_t blocksPerSequence = (capacity + pageSize - 1) / pageSize;
    int64_t pages = batch * blocksPerSequence;
    inputs.assign(func.getNumArguments(), {});
    for (unsigned i = 3; i < func.getNumArguments(); ++i) {
      auto type = cast<RankedTensorType>(func.getArgument(i).getType());
      std::vector<int64_t> shape(type.getShape());
      shape[0] = pages;
      inputs[i] = ref::Tensor(type.getElementType(), shape);
    }
    Type i32 = IntegerType::get(func.getContext(), 32);
    inputs[1] = ref::Tensor(i32, {batch});
    inputs[2] = ref::Tensor(i32, {batch, blocksPerSequence});
    // Sequence b owns pages b * blocksPerSequence onwards, in order.
    for (int64_t p = 0; p < pages; ++p)
      inputs[2].ints[p] = p;
    return llvm::Error::success();
  }

  llvm::Expected<ref::Tensor> append(const std::vector<int64_t> &ids,
                                     int64_t n) override {
    int64_t batch = inputs[1].numel();
    inputs[0] =
        ref::Tensor(getElementTypeOrSelf(func.getArgument(0)), {batch, n});
    inputs[0].ints = ids;
    auto out = executor.run(inputs);
    if (!out)
      return out.takeError();
    for (unsigned r = 1; r < out->size(); ++r)
      if (auto updates =
              func.getResultAttrOfType<IntegerAttr>(r, "kuai.updates"))
        inputs[updates.getInt()] = std::move((*out)[r]);
    for (int64_t &past : inputs[1].ints)
      past += n;
    return std::move((*out)[0]);
  }

  std::string method() const override {
    return "KV cache, pages of " + std::to_string(pageSize) + " tokens";
  }

private:
  func::FuncOp func;
  ref::Executor executor;
  int64_t pageSize;
  std::vector<ref::Tensor> inputs;
};

} // namespace

std::unique_ptr<Decoder> kuai::makeRecomputeDecoder(LogitsFn logits) {
  return std::make_unique<RecomputeDecoder>(std::move(logits));
}

llvm::Expected<std::unique_ptr<Decoder>>
kuai::makeReferenceCacheDecoder(func::FuncOp cached) {
  auto name = [&](unsigned i) {
    auto n = cached.getArgAttrOfType<StringAttr>(i, "kuai.name");
    return n ? n.getValue() : StringRef();
  };
  if (cached.getNumArguments() < 5 || name(1) != "kv.past_lengths" ||
      name(2) != "kv.block_table")
    return llvm::createStringError(
        "@" + cached.getSymName().str() +
        " is not a kuai-kv-cache function (inputs ids, kv.past_lengths, "
        "kv.block_table, pages)");
  auto pages = cast<RankedTensorType>(cached.getArgument(3).getType());
  return std::make_unique<ReferenceCacheDecoder>(cached, pages.getDimSize(2));
}
