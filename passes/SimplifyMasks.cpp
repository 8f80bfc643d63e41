//===- SimplifyMasks.cpp - Attention bias subgraphs to mask kinds ---------===//
//
// Exporters build masks from dozens of ops (the llama-sdpa causal mask is a
// CumSum, GatherND, LessOrEqual, And, Where chain), differently per family
// and exporter version. Instead of matching them, the pass evaluates the
// bias for several sequence lengths and checks it against each mask kind.
//
//===----------------------------------------------------------------------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"
#include "kuai/Reference/TensorIO.h"
#include "mlir/IR/Builders.h"
#include <set>

namespace kuai {
#define GEN_PASS_DEF_SIMPLIFYMASKS
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

/// What a bias tensor [.., S, S] says about visibility, per probe.
enum class Entry { Visible, Masked, Neither };

/// Masked: -inf, the fp32/bf16 lowest, or the fp16 lowest (-65504), which
/// fp16 exports use; exp() of any of them below a visible score is 0.
Entry classify(double v) {
  if (v == 0.0)
    return Entry::Visible;
  if (v <= -65504.0)
    return Entry::Masked;
  return Entry::Neither;
}

class SimplifyMasks : public kuai::impl::SimplifyMasksBase<SimplifyMasks> {
public:
  void runOnOperation() override {
    SmallVector<AttentionOp> ops;
    getOperation().walk([&](AttentionOp a) {
      if (a.getMaskKind() == "bias")
        ops.push_back(a);
    });
    for (AttentionOp a : ops)
      simplify(a);
    eraseDeadKuaiOps(getOperation());
  }

private:
  void simplify(AttentionOp attention) {
    Value bias = attention.getMask();
    auto slice =
        backwardSlice(bias, [](Value v) { return isa<BlockArgument>(v); });
    if (slice.size() > 4000)
      return;
    SmallVector<BlockArgument> args;
    for (Operation *op : slice)
      for (Value v : op->getOperands())
        if (auto arg = dyn_cast<BlockArgument>(v);
            arg && !llvm::is_contained(args, arg))
          args.push_back(arg);
    if (isa<BlockArgument>(bias) || args.size() > 1)
      return;
    // Sequence lengths: the query length must be a plain symbol, and the
    // key length the same (full-sequence models).
    auto q = getSymDims(attention.getQuery().getType());
    auto k = getSymDims(attention.getKey().getType());
    if (!q || !k || !(*q)[2].getSymbolName() || (*q)[2] != (*k)[2])
      return;
    std::string seq = *(*q)[2].getSymbolName();
    llvm::StringMap<int64_t> symbols;
    for (BlockArgument arg : getOperation().getArguments())
      if (auto dims = getSymDims(arg.getType()))
        for (const SymExpr &e : *dims)
          if (auto name = e.getSymbolName())
            symbols[*name] = 2;
    std::set<int64_t> probes = {1, 2, 3, 5, 8, 13};
    for (Operation *op : slice)
      if (auto c = dyn_cast<ConstantOp>(op);
          c && c.getValue().getNumElements() <= 16 &&
          isa<IntegerType>(c.getValue().getElementType()))
        for (int64_t v : ref::tensorFromAttr(c.getValue()).ints)
          if (v > 2 && v <= 1024)
            for (int64_t p : {v - 1, v, v + 1, v + 2})
              probes.insert(p);
    SmallVector<Operation *> ordered(slice.begin(), slice.end());

    std::optional<StringRef> kind;
    int64_t window = 0;
    Value maskOperand;
    if (args.empty()) {
      kind = classifyCausal(ordered, bias, symbols, seq, probes, window);
    } else {
      maskOperand = args.front();
      auto dims = getSymDims(maskOperand.getType());
      auto elem = cast<ShapedType>(maskOperand.getType()).getElementType();
      if (!dims || dims->size() != 2 || (*dims)[1] != (*k)[2] ||
          (*dims)[0] != (*q)[0] || !isa<IntegerType>(elem))
        return;
      kind = classifyPadding(ordered, bias, symbols, seq, maskOperand);
    }
    if (!kind)
      return;
    OpBuilder b(attention);
    Value operand =
        maskOperand ? maskOperand
                    : NoneOp::create(b, attention.getLoc(), b.getNoneType());
    attention.getMaskMutable().assign(operand);
    attention.setMaskKindAttr(b.getStringAttr(*kind));
    attention.setWindowAttr(b.getI64IntegerAttr(window));
  }

  /// Bias [.., p or 1, p] as visibility per element; std::nullopt when the
  /// shape is wrong or an entry is neither 0 nor <= -65504. A query dim of 1
  /// (padding masks broadcast over queries) is allowed.
  static std::optional<std::vector<bool>> visibility(const ref::Tensor &t,
                                                     int64_t p) {
    if (t.rank() < 2 || t.shape[t.rank() - 1] != p ||
        (t.shape[t.rank() - 2] != p && t.shape[t.rank() - 2] != 1))
      return std::nullopt;
    std::vector<bool> visible(t.numel());
    for (int64_t i = 0; i < t.numel(); ++i) {
      Entry e = classify(t.at(i));
      if (e == Entry::Neither)
        return std::nullopt;
      visible[i] = e == Entry::Visible;
    }
    return visible;
  }

  std::optional<StringRef>
  classifyCausal(ArrayRef<Operation *> slice, Value bias,
                 llvm::StringMap<int64_t> symbols, StringRef seq,
                 const std::set<int64_t> &probes, int64_t &window) {
    int64_t seenWindow = 0; // smallest distance found masked below diagonal
    for (int64_t p : probes) {
      symbols[seq] = p;
      auto t = evaluateSlice(slice, bias, NoInputs(), symbols);
      if (!t)
        return std::nullopt;
      auto visible = visibility(*t, p);
      if (!visible || t->shape[t->rank() - 2] != p)
        return std::nullopt;
      for (int64_t idx = 0; idx < t->numel(); ++idx) {
        int64_t j = idx % p, i = (idx / p) % p;
        if (j > i && (*visible)[idx])
          return std::nullopt; // a future key is visible: not causal
        if (j <= i && !(*visible)[idx]) {
          int64_t distance = i - j;
          if (!seenWindow || distance < seenWindow)
            seenWindow = distance;
        }
      }
    }
    if (!seenWindow)
      return StringRef("causal");
    // Sliding window w: visible exactly when 0 <= i - j < w; re-check every
    // probe against the window found.
    window = seenWindow;
    for (int64_t p : probes) {
      symbols[seq] = p;
      auto t = evaluateSlice(slice, bias, NoInputs(), symbols);
      auto visible = visibility(*t, p);
      for (int64_t idx = 0; idx < t->numel(); ++idx) {
        int64_t j = idx % p, i = (idx / p) % p;
        if ((*visible)[idx] != (j <= i && i - j < window))
          return std::nullopt;
      }
    }
    return StringRef("sliding_window");
  }

  std::optional<StringRef> classifyPadding(ArrayRef<Operation *> slice,
                                           Value bias,
                                           llvm::StringMap<int64_t> symbols,
                                           StringRef seq, Value maskArg) {
    Type elem = cast<ShapedType>(maskArg.getType()).getElementType();
    bool padding = true, causalPadding = true;
    uint64_t seed = 1;
    for (int64_t p : {1, 3, 8, 13}) {
      symbols[seq] = p;
      int64_t batch = 3;
      auto dims = *getSymDims(maskArg.getType());
      if (auto name = dims[0].getSymbolName())
        symbols[*name] = batch;
      else
        return std::nullopt;
      ref::Tensor mask = ref::randomTensor(elem, {batch, p}, seed++, 2);
      for (int64_t r = 0; r < batch; ++r)
        mask.ints[r * p] = 1; // every row attends to something
      llvm::DenseMap<Value, ref::Tensor> given;
      given[maskArg] = mask;
      auto t = evaluateSlice(slice, bias, given, symbols);
      if (!t)
        return std::nullopt;
      auto visible = visibility(*t, p);
      // Broadcast over heads: [batch or 1, heads or 1, p, p].
      if (!visible || t->rank() != 4 ||
          (t->shape[0] != batch && t->shape[0] != 1))
        return std::nullopt;
      int64_t rows = t->shape[2];
      causalPadding &= rows == p;
      for (int64_t idx = 0; idx < t->numel(); ++idx) {
        int64_t j = idx % p, i = (idx / p) % rows;
        int64_t bi = t->shape[0] == 1 ? 0 : idx / (t->shape[1] * rows * p);
        bool keep = mask.ints[bi * p + j] != 0;
        padding &= (*visible)[idx] == keep;
        causalPadding &= (*visible)[idx] == (keep && j <= i);
      }
    }
    if (padding)
      return StringRef("padding");
    if (causalPadding)
      return StringRef("causal_padding");
    return std::nullopt;
  }
};

} // namespace
