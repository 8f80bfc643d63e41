//===- RaiseMoe.cpp - Dense-masked mixture of experts to kuai.moe ---------===//
//
// How MoE blocks export today (tiny-moe, Mixtral-style modules written for
// export): router logits -> softmax -> TopK -> renormalise -> ScatterElements
// into a dense [tokens, experts] weight matrix; every expert MLP runs on
// every token and its output is scaled by its column of that matrix and
// summed.
//
//===----------------------------------------------------------------------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"
#include "mlir/IR/Builders.h"

namespace kuai {
#define GEN_PASS_DEF_RAISEMOE
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

Value skipCast(Value v) {
  if (auto c = v.getDefiningOp<CastOp>())
    return c.getInput();
  return v;
}

/// A zero scalar, a splat of zeros, or an Expand of either.
bool isZeros(Value v) {
  if (auto e = v.getDefiningOp<ExpandOp>())
    v = e.getInput();
  if (auto c = v.getDefiningOp<ConstantOp>())
    if (auto dense = dyn_cast<DenseElementsAttr>(c.getValue());
        dense && dense.isSplat())
      return ref::tensorFromAttr(dense).at(0) == 0.0;
  auto c = getScalarConstant(v);
  return c && *c == 0.0;
}

struct Expert {
  LinearOp gate, up, down;
  GluOp glu;
};

/// w * down(glu(gate(x), up(x))) in either operand order: the expert and its
/// weight column.
std::optional<std::pair<Expert, Value>> matchScaledExpert(MulOp mul, Value x) {
  for (auto [w, y] : {std::pair(mul.getLhs(), mul.getRhs()),
                      std::pair(mul.getRhs(), mul.getLhs())}) {
    Expert e;
    e.down = y.getDefiningOp<LinearOp>();
    e.glu = e.down ? e.down.getInput().getDefiningOp<GluOp>() : nullptr;
    e.gate = e.glu ? e.glu.getGate().getDefiningOp<LinearOp>() : nullptr;
    e.up = e.glu ? e.glu.getUp().getDefiningOp<LinearOp>() : nullptr;
    if (!e.gate || !e.up || e.gate.getInput() != x || e.up.getInput() != x)
      continue;
    for (LinearOp l : {e.gate, e.up, e.down})
      if (!isa<NoneType>(l.getBias().getType()))
        return std::nullopt;
    return std::make_pair(e, w);
  }
  return std::nullopt;
}

class RaiseMoe : public kuai::impl::RaiseMoeBase<RaiseMoe> {
public:
  void runOnOperation() override {
    SmallVector<ScatterElementsOp> scatters;
    getOperation().walk([&](ScatterElementsOp s) { scatters.push_back(s); });
    for (ScatterElementsOp s : scatters)
      raise(s);
    eraseDeadKuaiOps(getOperation());
  }

private:
  void raise(ScatterElementsOp scatter) {
    int64_t rank = getRank(scatter.getData());
    if (rank != 2 || (scatter.getAxis() != -1 && scatter.getAxis() != 1) ||
        scatter.getReduction() != "none" || !isZeros(scatter.getData()))
      return;
    // Routing weights: TopK values, optionally renormalised.
    Value updates = scatter.getUpdates();
    bool normalize = false;
    if (auto div = updates.getDefiningOp<DivOp>()) {
      auto sum = div.getRhs().getDefiningOp<ReduceSumOp>();
      if (!sum || sum.getData() != div.getLhs() || !sum.getKeepdims() ||
          getSingleAxis(sum.getAxes(), 2) != 1)
        return;
      normalize = true;
      updates = div.getLhs();
    }
    auto topk = updates.getDefiningOp<TopKOp>();
    if (!topk || topk.getValues() != updates ||
        scatter.getIndices() != topk.getIndices() || !topk.getLargest() ||
        (topk.getAxis() != -1 && topk.getAxis() != 1))
      return;
    auto k = getConstantInts(topk.getK());
    auto softmax = topk.getInput().getDefiningOp<SoftmaxOp>();
    if (!k || k->size() != 1 || !softmax ||
        (softmax.getAxis() != -1 && softmax.getAxis() != 1))
      return;
    auto router = skipCast(softmax.getInput()).getDefiningOp<LinearOp>();
    if (!router || !isa<NoneType>(router.getBias().getType()))
      return;
    Value x = router.getInput();
    auto routerType = dyn_cast<RankedTensorType>(router.getType());
    if (!routerType || routerType.isDynamicDim(1))
      return;
    int64_t numExperts = routerType.getDimSize(1);

    // Each expert: slice(dense, [e], [e+1], [1]) * expert(x), summed.
    Value dense = scatter.getResult();
    if (dense.hasOneUse())
      if (auto cast = dyn_cast<CastOp>(*dense.getUsers().begin()))
        dense = cast.getResult();
    SmallVector<std::optional<Expert>> experts(numExperts);
    SmallVector<MulOp> terms;
    for (Operation *user : dense.getUsers()) {
      auto slice = dyn_cast<SliceOp>(user);
      auto starts = slice ? getConstantInts(slice.getStarts()) : std::nullopt;
      auto ends = slice ? getConstantInts(slice.getEnds()) : std::nullopt;
      if (!starts || !ends || starts->size() != 1 || ends->size() != 1 ||
          getSingleAxis(slice.getAxes(), 2) != 1 ||
          (*ends)[0] != (*starts)[0] + 1 || !slice->hasOneUse())
        return;
      int64_t e = (*starts)[0];
      auto mul = dyn_cast<MulOp>(*slice->getUsers().begin());
      auto matched = mul ? matchScaledExpert(mul, x) : std::nullopt;
      if (e < 0 || e >= numExperts || experts[e] || !matched ||
          matched->second != slice.getResult())
        return;
      experts[e] = matched->first;
      terms.push_back(mul);
    }
    if (llvm::any_of(experts, [](auto &e) { return !e; }))
      return;
    // The terms are summed by a chain of adds that starts from zeros or a
    // term; find its end.
    llvm::DenseSet<Value> summed;
    for (MulOp m : terms)
      summed.insert(m.getResult());
    Value acc;
    for (MulOp m : terms) {
      Value v = m.getResult();
      while (v.hasOneUse()) {
        auto add = dyn_cast<AddOp>(*v.getUsers().begin());
        if (!add)
          break;
        Value other = otherOperand(add, v);
        if (!summed.count(other) && !isZeros(other) &&
            !(other.getDefiningOp<AddOp>() && summedChain(other, summed)))
          break;
        v = add.getResult();
      }
      if (!acc || (v != acc && v.getDefiningOp() && acc.getDefiningOp() &&
                   acc.getDefiningOp()->isBeforeInBlock(v.getDefiningOp())))
        acc = v;
    }
    if (!acc || !summedChain(acc, summed) || acc.getType() != x.getType())
      return;
    bool expertsTransposed = experts[0]->gate.getTransposeWeight();
    SmallVector<Value> weights;
    for (auto &e : experts) {
      for (LinearOp l : {e->gate, e->up, e->down}) {
        if (l.getTransposeWeight() != expertsTransposed)
          return;
        weights.push_back(l.getWeight());
      }
      if (e->glu.getActivation() != experts[0]->glu.getActivation())
        return;
    }
    OpBuilder b(acc.getDefiningOp());
    b.setInsertionPointAfter(acc.getDefiningOp());
    auto moe = MoeOp::create(
        b, acc.getLoc(), x.getType(), x, router.getWeight(), weights,
        b.getI64IntegerAttr((*k)[0]), b.getBoolAttr(normalize),
        experts[0]->glu.getActivationAttr(),
        b.getBoolAttr(router.getTransposeWeight()),
        b.getBoolAttr(expertsTransposed));
    acc.replaceAllUsesWith(moe.getResult());
  }

  /// Whether `v` is a sum (through adds) of exactly terms from `summed`
  /// and zeros.
  static bool summedChain(Value v, const llvm::DenseSet<Value> &summed) {
    if (summed.count(v) || isZeros(v))
      return true;
    auto add = v.getDefiningOp<AddOp>();
    return add && summedChain(add.getLhs(), summed) &&
           summedChain(add.getRhs(), summed);
  }
};

} // namespace
