//===- FuseNorms.cpp - RMSNorm and LayerNorm subgraphs to single ops ------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"
#include "mlir/IR/Builders.h"

namespace kuai {
#define GEN_PASS_DEF_FUSENORMS
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

/// `mean(v, last axis, keepdims)`: returns v.
Value matchLastAxisMean(Value value) {
  auto mean = value.getDefiningOp<ReduceMeanOp>();
  if (!mean || !mean.getKeepdims() || !mean->hasOneUse())
    return {};
  int64_t rank = getRank(mean.getData());
  auto axis = getSingleAxis(mean.getAxes(), rank);
  if (rank < 1 || axis != rank - 1)
    return {};
  return mean.getData();
}

/// `t^2` as Pow(t, 2) or t * t: returns t.
Value matchSquare(Value value) {
  Operation *op = value.getDefiningOp();
  if (!op || !op->hasOneUse())
    return {};
  if (auto pow = dyn_cast<PowOp>(op))
    return getScalarConstant(pow.getRhs()) == 2.0 ? pow.getLhs() : Value();
  if (auto mul = dyn_cast<MulOp>(op))
    return mul.getLhs() == mul.getRhs() ? mul.getLhs() : Value();
  return {};
}

/// The single user of `value`, if it has exactly one use.
Operation *singleUser(Value value) {
  return value.hasOneUse() ? *value.getUsers().begin() : nullptr;
}

/// A constant 1-D operand of `op` (a binary op using `value`) with `n`
/// elements.
Value constantVectorBeside(Operation *op, Value value, int64_t n) {
  Value other = otherOperand(op, value);
  if (!other || !isConstantTensor(other) || getRank(other) != 1)
    return {};
  auto type = cast<RankedTensorType>(other.getType());
  return type.getDimSize(0) == n ? other : Value();
}

class FuseNorms : public kuai::impl::FuseNormsBase<FuseNorms> {
public:
  void runOnOperation() override {
    SmallVector<SqrtOp> roots;
    getOperation().walk([&](SqrtOp s) { roots.push_back(s); });
    for (SqrtOp s : roots)
      fuse(s);
    getOperation().walk([&](LayerNormalizationOp op) { fuseOnnx(op); });
    eraseDeadKuaiOps(getOperation());
  }

private:
  /// s = sqrt(mean(t^2) + eps); t = x (RMS) or x - mean(x) (LayerNorm).
  void fuse(SqrtOp s) {
    auto add = s.getInput().getDefiningOp<AddOp>();
    if (!add || !add->hasOneUse())
      return;
    Value meanSq;
    std::optional<double> eps;
    for (auto [a, b] : {std::pair(add.getLhs(), add.getRhs()),
                        std::pair(add.getRhs(), add.getLhs())})
      if (auto e = getScalarConstant(b)) {
        eps = e;
        meanSq = a;
      }
    if (!eps)
      return;
    Value t = matchSquare(matchLastAxisMean(meanSq));
    if (!t)
      return;
    Value x = t;
    bool layerNorm = false;
    if (auto sub = t.getDefiningOp<SubOp>())
      if (Value mx = matchLastAxisMean(sub.getRhs());
          mx && mx == sub.getLhs()) {
        x = sub.getLhs();
        layerNorm = true;
      }
    // n = t * reciprocal(s) or t / s.
    Operation *user = singleUser(s.getResult());
    Value normalized;
    auto div = dyn_cast_or_null<DivOp>(user);
    if (div && div.getLhs() == t && div.getRhs() == s.getResult()) {
      normalized = div.getResult();
    } else if (user && (isa<ReciprocalOp>(user) ||
                        (isa<DivOp>(user) && user->getOperand(1) == s &&
                         getScalarConstant(user->getOperand(0)) == 1.0))) {
      // reciprocal(s), or 1 / s as torch's rsqrt exports.
      Value r = user->getResult(0);
      auto mul = dyn_cast_or_null<MulOp>(singleUser(r));
      if (mul && otherOperand(mul, r) == t)
        normalized = mul.getResult();
    }
    auto xType = dyn_cast<RankedTensorType>(x.getType());
    if (!normalized || !xType || normalized.getType() != x.getType() ||
        xType.isDynamicDim(xType.getRank() - 1))
      return;
    // t must feed only the norm: the square, and the normalising op (plus
    // nothing else when it is the centred x - mean).
    int64_t features = xType.getDimSize(xType.getRank() - 1);
    Value result = normalized, weight, bias;
    if (Operation *mul = singleUser(result); mul && isa<MulOp>(mul))
      if (Value w = constantVectorBeside(mul, result, features)) {
        weight = w;
        result = mul->getResult(0);
      }
    if (layerNorm)
      if (Operation *add2 = singleUser(result); add2 && isa<AddOp>(add2))
        if (Value b = constantVectorBeside(add2, result, features)) {
          bias = b;
          result = add2->getResult(0);
        }
    if (result.getType() != x.getType())
      return;
    OpBuilder b(result.getDefiningOp());
    b.setInsertionPointAfter(result.getDefiningOp());
    Location loc = result.getLoc();
    Value none = NoneOp::create(b, loc, b.getNoneType());
    FloatAttr epsAttr = b.getF32FloatAttr(float(*eps));
    Value fused;
    if (layerNorm)
      fused = LayerNormOp::create(b, loc, x.getType(), x,
                                  weight ? weight : none, bias ? bias : none,
                                  epsAttr, b.getI64IntegerAttr(-1));
    else
      fused = RmsNormOp::create(b, loc, x.getType(), x, weight ? weight : none,
                                epsAttr);
    result.replaceAllUsesWith(fused);
  }

  void fuseOnnx(LayerNormalizationOp op) {
    if (!op.getMean().use_empty() || !op.getInvStdDev().use_empty())
      return;
    OpBuilder b(op);
    Value fused = LayerNormOp::create(
        b, op.getLoc(), op.getY().getType(), op.getX(), op.getScale(),
        op.getBias(), b.getF32FloatAttr(op.getEpsilon().convertToFloat()),
        b.getI64IntegerAttr(op.getAxis()));
    op.getY().replaceAllUsesWith(fused);
  }
};

} // namespace
