//===- FuseAttention.cpp - softmax(q·kᵀ + mask)·v to kuai.attention -------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"
#include "mlir/IR/Builders.h"

namespace kuai {
#define GEN_PASS_DEF_FUSEATTENTION
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

/// Strips multiplications and divisions by scalar constants, accumulating
/// them into `scale`.
Value stripScale(Value value, double &scale) {
  while (Operation *op = value.getDefiningOp()) {
    if (!value.hasOneUse())
      break;
    if (auto mul = dyn_cast<MulOp>(op)) {
      if (auto c = getScalarConstant(mul.getRhs())) {
        scale *= *c;
        value = mul.getLhs();
        continue;
      }
      if (auto c = getScalarConstant(mul.getLhs())) {
        scale *= *c;
        value = mul.getRhs();
        continue;
      }
    }
    if (auto div = dyn_cast<DivOp>(op))
      if (auto c = getScalarConstant(div.getRhs()); c && *c != 0) {
        scale /= *c;
        value = div.getLhs();
        continue;
      }
    break;
  }
  return value;
}

/// Whether `a` has the `expected` dims: the dims listed in `exact` must be
/// known and equal; elsewhere a dim the type does not know yet (types of
/// ops upstream of a raised op can lag behind) is accepted.
bool sameDims(Value a, ArrayRef<SymExpr> expected, ArrayRef<int> exact = {}) {
  auto d = getSymDims(a.getType());
  if (!d || d->size() != expected.size())
    return false;
  for (auto [i, x, y] : llvm::enumerate(*d, expected)) {
    bool mustKnow = llvm::is_contained(exact, int(i));
    if ((mustKnow && (!x.isKnown() || x != y)) ||
        (x.isKnown() && y.isKnown() && x != y))
      return false;
  }
  return true;
}

/// k from kᵀ = Transpose(k, [0, 1, 3, 2]) or
/// Reshape(Transpose(Reshape(k, [B*H, S, D]), [0, 2, 1]), [B, H, D, S]).
Value matchKeyTranspose(Value kt) {
  if (auto t = kt.getDefiningOp<TransposeOp>()) {
    auto perm = t.getPerm();
    if (perm && perm->size() == 4 && (*perm)[0] == 0 && (*perm)[1] == 1 &&
        (*perm)[2] == 3 && (*perm)[3] == 2)
      return t.getData();
  }
  auto outer = kt.getDefiningOp<ReshapeOp>();
  auto t = outer ? outer.getData().getDefiningOp<TransposeOp>() : nullptr;
  auto inner = t ? t.getData().getDefiningOp<ReshapeOp>() : nullptr;
  if (!inner || !t.getPerm() || t.getPerm()->size() != 3 ||
      (*t.getPerm())[0] != 0 || (*t.getPerm())[1] != 2 ||
      (*t.getPerm())[2] != 1)
    return {};
  Value k = inner.getData();
  auto kd = getSymDims(k.getType());
  if (!kd || kd->size() != 4)
    return {};
  const auto &d = *kd;
  if (!sameDims(inner.getResult(), {d[0] * d[1], d[2], d[3]}, {2}) ||
      !sameDims(kt, {d[0], d[1], d[3], d[2]}, {1, 2}))
    return {};
  return k;
}

/// kv before grouped-query repetition:
/// Reshape(Expand(Unsqueeze(kv, [2]), [B, Hkv, n, S, D]), [B, Hkv*n, S, D]).
Value unrepeat(Value value) {
  auto reshape = value.getDefiningOp<ReshapeOp>();
  auto expand = reshape ? reshape.getData().getDefiningOp<ExpandOp>() : nullptr;
  auto unsq = expand ? expand.getInput().getDefiningOp<UnsqueezeOp>() : nullptr;
  if (!unsq)
    return value;
  Value kv = unsq.getData();
  auto axes = getConstantInts(unsq.getAxes());
  auto kd = getSymDims(kv.getType());
  auto ed = getSymDims(expand.getType());
  if (!axes || axes->size() != 1 || (*axes)[0] != 2 || !kd || kd->size() != 4 ||
      !ed || ed->size() != 5)
    return value;
  const auto &k = *kd;
  SymExpr n = (*ed)[2];
  if (!k[1].isKnown() || !n.isKnown() ||
      !sameDims(expand.getResult(), {k[0], k[1], n, k[2], k[3]}, {1, 2, 4}) ||
      !sameDims(value, {k[0], k[1] * n, k[2], k[3]}, {1, 3}))
    return value;
  return kv;
}

class FuseAttention : public kuai::impl::FuseAttentionBase<FuseAttention> {
public:
  void runOnOperation() override {
    SmallVector<SoftmaxOp> softmaxes;
    getOperation().walk([&](SoftmaxOp s) { softmaxes.push_back(s); });
    for (SoftmaxOp s : softmaxes)
      fuse(s);
    eraseDeadKuaiOps(getOperation());
  }

private:
  void fuse(SoftmaxOp softmax) {
    int64_t rank = getRank(softmax.getInput());
    if (rank != 4 || (softmax.getAxis() != -1 && softmax.getAxis() != 3))
      return;
    // Scores: q·kᵀ [* c] [+ bias].
    Value scores = softmax.getInput(), bias;
    MatMulOp qk;
    double scale = 1.0;
    auto matchQk = [&](Value v) {
      double s = 1.0;
      auto mm = stripScale(v, s).getDefiningOp<MatMulOp>();
      if (mm && mm->hasOneUse()) {
        qk = mm;
        scale = s;
      }
      return bool(qk);
    };
    // masked_fill: Where(cond, -inf, s) or Where(cond, s, -inf) becomes the
    // bias Where(cond, -inf, 0) (resp. Where(cond, 0, -inf)).
    WhereOp maskedFill;
    if (auto add = scores.getDefiningOp<AddOp>(); add && add->hasOneUse()) {
      if (matchQk(add.getLhs()))
        bias = add.getRhs();
      else if (matchQk(add.getRhs()))
        bias = add.getLhs();
    } else if (auto where = scores.getDefiningOp<WhereOp>();
               where && where->hasOneUse()) {
      auto fill = [](Value v) {
        auto c = getScalarConstant(v);
        return c && *c <= -1e30;
      };
      if ((fill(where.getX()) && matchQk(where.getY())) ||
          (fill(where.getY()) && matchQk(where.getX())))
        maskedFill = where;
    }
    if (!qk && !matchQk(scores))
      return;
    Value q = stripScale(qk.getLhs(), scale);
    Value kt = stripScale(qk.getRhs(), scale);
    // Probabilities, possibly through sdpa's NaN guard.
    Value probs = softmax.getResult();
    Operation *consumer = nullptr;
    for (Operation *user : probs.getUsers()) {
      if (isa<IsNaNOp>(user))
        continue;
      if (consumer)
        return;
      consumer = user;
    }
    if (auto where = dyn_cast_or_null<WhereOp>(consumer)) {
      auto isnan = where.getCondition().getDefiningOp<IsNaNOp>();
      if (!isnan || isnan.getInput() != probs || where.getY() != probs ||
          getScalarConstant(where.getX()) != 0.0 || !where->hasOneUse())
        return;
      probs = where.getResult();
      consumer = *probs.getUsers().begin();
    }
    auto pv = dyn_cast_or_null<MatMulOp>(consumer);
    if (!pv || pv.getLhs() != probs)
      return;
    Value v = unrepeat(pv.getRhs());
    OpBuilder b(pv);
    Value k = matchKeyTranspose(kt);
    if (!k)
      k = TransposeOp::create(b, pv.getLoc(),
                              UnrankedTensorType::get(b.getF32Type()), kt,
                              b.getDenseI64ArrayAttr({0, 1, 3, 2}));
    if (auto t = k.getDefiningOp<TransposeOp>(); t && t.getData() == kt)
      if (failed(inferTypesQuietly(t)))
        return t.erase();
    k = unrepeat(k);
    if (getRank(q) != 4 || getRank(k) != 4 || getRank(v) != 4)
      return;
    Location loc = pv.getLoc();
    Value none = NoneOp::create(b, loc, b.getNoneType());
    if (maskedFill) {
      Type elem = cast<ShapedType>(maskedFill.getType()).getElementType();
      ref::Tensor zero(elem, {});
      Value zeroValue = ConstantOp::create(b, loc, ref::tensorToAttr(zero));
      bool fillOnTrue = getScalarConstant(maskedFill.getX()).has_value() &&
                        *getScalarConstant(maskedFill.getX()) <= -1e30;
      Value fill = fillOnTrue ? maskedFill.getX() : maskedFill.getY();
      auto where = WhereOp::create(
          b, loc, UnrankedTensorType::get(elem), maskedFill.getCondition(),
          fillOnTrue ? fill : zeroValue, fillOnTrue ? zeroValue : fill);
      if (failed(inferTypesQuietly(where)))
        return;
      bias = where.getResult();
    }
    auto attention = AttentionOp::create(
        b, loc, UnrankedTensorType::get(b.getF32Type()), q, k, v,
        bias ? bias : none, b.getF32FloatAttr(float(scale)),
        b.getStringAttr(bias ? "bias" : "none"), b.getI64IntegerAttr(0));
    if (failed(inferTypesQuietly(attention)) ||
        !typesCompatible(attention.getType(), pv.getType())) {
      attention.erase();
      return;
    }
    pv.getResult().replaceAllUsesWith(attention.getResult());
  }
};

} // namespace
