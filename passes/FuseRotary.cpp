//===- FuseRotary.cpp - Rotary position embeddings to kuai.rotary ---------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"
#include "mlir/IR/Builders.h"
#include <cmath>

namespace kuai {
#define GEN_PASS_DEF_FUSEROTARY
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

/// `slice(x, [start], [end], [last axis])` with step 1: returns x.
Value matchLastAxisSlice(Value value, int64_t &start, int64_t &end) {
  auto slice = value.getDefiningOp<SliceOp>();
  if (!slice)
    return {};
  int64_t rank = getRank(slice.getData());
  auto starts = getConstantInts(slice.getStarts());
  auto ends = getConstantInts(slice.getEnds());
  auto axis = getSingleAxis(slice.getAxes(), rank);
  if (!starts || !ends || starts->size() != 1 || ends->size() != 1 ||
      axis != rank - 1)
    return {};
  if (!isa<NoneType>(slice.getSteps().getType())) {
    auto steps = getConstantInts(slice.getSteps());
    if (!steps || steps->size() != 1 || (*steps)[0] != 1)
      return {};
  }
  start = (*starts)[0];
  end = (*ends)[0];
  return slice.getData();
}

int64_t lastDim(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && !t.isDynamicDim(t.getRank() - 1) ? t.getDimSize(t.getRank() - 1)
                                               : -1;
}

/// rotate_half(x) = concat(-x[..., h:], x[..., :h]): returns x.
Value matchRotateHalf(Value value) {
  auto concat = value.getDefiningOp<ConcatOp>();
  if (!concat || concat.getInputs().size() != 2)
    return {};
  int64_t rank = getRank(value);
  if (concat.getAxis() != -1 && concat.getAxis() != rank - 1)
    return {};
  auto neg = concat.getInputs()[0].getDefiningOp<NegOp>();
  if (!neg)
    return {};
  int64_t s2, e2, s1, e1;
  Value x = matchLastAxisSlice(neg.getInput(), s2, e2);
  Value x1 = matchLastAxisSlice(concat.getInputs()[1], s1, e1);
  int64_t d = x ? lastDim(x) : -1;
  if (!x || x != x1 || d <= 0 || d % 2 || s1 != 0 || e1 != d / 2 ||
      s2 != d / 2 || e2 < d)
    return {};
  return x;
}

class FuseRotary : public kuai::impl::FuseRotaryBase<FuseRotary> {
public:
  void runOnOperation() override {
    SmallVector<AddOp> adds;
    getOperation().walk([&](AddOp a) { adds.push_back(a); });
    for (AddOp add : adds)
      fuse(add);
    eraseDeadKuaiOps(getOperation());
    // A rotated key can be a result (the present.N.key of a past/present
    // export), and the rotary op knows its length better than the import.
    syncFunctionResultTypes(getOperation());
  }

private:
  llvm::DenseMap<std::pair<Value, Value>, std::optional<SmallVector<float>>>
      frequencyCache;

  /// add(mul(x, cos), mul(rotate_half(x), sin)), operands in any order.
  void fuse(AddOp add) {
    for (auto [a, b] : {std::pair(add.getLhs(), add.getRhs()),
                        std::pair(add.getRhs(), add.getLhs())}) {
      auto mulCos = a.getDefiningOp<MulOp>(), mulSin = b.getDefiningOp<MulOp>();
      if (!mulCos || !mulSin || !mulCos->hasOneUse() || !mulSin->hasOneUse())
        continue;
      for (auto [rot, sin] : {std::pair(mulSin.getLhs(), mulSin.getRhs()),
                              std::pair(mulSin.getRhs(), mulSin.getLhs())}) {
        Value x = matchRotateHalf(rot);
        Value cos = otherOperand(mulCos, x);
        if (!x || !cos || !typesCompatible(add.getType(), x.getType()) ||
            lastDim(cos) != lastDim(x) || lastDim(sin) != lastDim(x))
          continue;
        replace(add, x, cos, sin);
        return;
      }
    }
  }

  void replace(AddOp add, Value x, Value cos, Value sin) {
    // Partial rotary: concat(rotary(x0[..., :r]), x0[..., r:]).
    Value input = x, result = add.getResult();
    int64_t rotaryDim = 0, s, e;
    if (Value x0 = matchLastAxisSlice(x, s, e);
        x0 && s == 0 && add->hasOneUse())
      if (auto concat = dyn_cast<ConcatOp>(*add->getUsers().begin());
          concat && concat.getInputs().size() == 2 &&
          concat.getInputs()[0] == result && concat.getType() == x0.getType()) {
        int64_t s2, e2;
        Value pass = matchLastAxisSlice(concat.getInputs()[1], s2, e2);
        int64_t d0 = lastDim(x0);
        if (pass == x0 && s2 == e && e2 >= d0 && e < d0) {
          input = x0;
          rotaryDim = e;
          result = concat.getResult();
        }
      }
    OpBuilder b(result.getDefiningOp());
    b.setInsertionPointAfter(result.getDefiningOp());
    Location loc = result.getLoc();
    Value none = NoneOp::create(b, loc, b.getNoneType());
    auto key = std::make_pair(cos, sin);
    if (!frequencyCache.count(key))
      frequencyCache[key] = deriveFrequencies(cos, sin, x);
    Value fused;
    if (auto &freq = frequencyCache[key])
      fused = RotaryOp::create(b, loc, input.getType(), input, none, none, none,
                               rotaryDim, false, b.getDenseF32ArrayAttr(*freq));
    else
      fused = RotaryOp::create(b, loc, input.getType(), input, cos, sin, none,
                               rotaryDim, false, DenseF32ArrayAttr());
    result.replaceAllUsesWith(fused);
  }

  /// When cos/sin depend only on the sequence length and equal
  /// cos/sin(p * f[i mod d/2]) for p = 0..seq-1, returns f.
  std::optional<SmallVector<float>> deriveFrequencies(Value cos, Value sin,
                                                      Value x) {
    int64_t d = lastDim(x);
    func::FuncOp func = getOperation();
    auto stopAtArgs = [](Value v) { return isa<BlockArgument>(v); };
    auto cosSlice = backwardSlice(cos, stopAtArgs);
    auto sinSlice = backwardSlice(sin, stopAtArgs);
    for (auto *slice : {&cosSlice, &sinSlice})
      for (Operation *op : *slice)
        for (Value v : op->getOperands())
          if (isa<BlockArgument>(v))
            return std::nullopt; // positions come from an input
    // The sequence symbol: the second-to-last dim of the rotated input.
    auto dims = getSymDims(x.getType());
    if (!dims || dims->size() < 2 || !(*dims)[dims->size() - 2].getSymbolName())
      return std::nullopt;
    std::string seq = *(*dims)[dims->size() - 2].getSymbolName();
    llvm::StringMap<int64_t> symbols;
    for (BlockArgument arg : func.getArguments())
      if (auto argDims = getSymDims(arg.getType()))
        for (const SymExpr &e : *argDims)
          if (auto name = e.getSymbolName())
            symbols[*name] = 2;
    int64_t half = d / 2;
    SmallVector<float> freq;
    // Tables stored in fp16/bf16 hold rounded values; the op computes them
    // in fp32.
    Type elem = cast<ShapedType>(cos.getType()).getElementType();
    float tolerance = elem.isF16() ? 2e-3f : elem.isBF16() ? 1e-2f : 1e-4f;
    for (int64_t p : {5, 37}) {
      symbols[seq] = p;
      SmallVector<Operation *> cs(cosSlice.begin(), cosSlice.end());
      SmallVector<Operation *> ss(sinSlice.begin(), sinSlice.end());
      auto c = evaluateSlice(cs, cos, NoInputs(), symbols);
      auto s = evaluateSlice(ss, sin, NoInputs(), symbols);
      if (!c || !s || c->shape != s->shape || c->shape.back() != d ||
          c->shape[c->rank() - 2] != p)
        return std::nullopt;
      int64_t rows = c->numel() / d;
      if (freq.empty()) {
        // Angles at position 1 (row 1 of the first table), then the exact
        // constant they came from when the slice holds one.
        for (int64_t i = 0; i < half; ++i)
          freq.push_back(std::atan2(s->floats[d + i], c->floats[d + i]));
        for (Operation *op : cosSlice)
          if (auto k = dyn_cast<ConstantOp>(op)) {
            if (k.getValue().getNumElements() != half ||
                !isa<FloatType>(k.getValue().getElementType()))
              continue;
            ref::Tensor t = ref::tensorFromAttr(k.getValue());
            bool same = true;
            for (int64_t i = 0; i < half; ++i)
              same &= std::fabs(t.floats[i] - freq[i]) <= tolerance;
            if (same)
              freq.assign(t.floats.begin(), t.floats.end());
          }
      }
      for (int64_t r = 0; r < rows; ++r) {
        int64_t pos = r % p;
        for (int64_t j = 0; j < d; ++j) {
          float angle = float(pos) * freq[j % half];
          if (std::fabs(c->floats[r * d + j] - std::cos(angle)) > tolerance ||
              std::fabs(s->floats[r * d + j] - std::sin(angle)) > tolerance)
            return std::nullopt;
        }
      }
    }
    return freq;
  }
};

} // namespace
