//===- FuseLinear.cpp - MatMul/Gemm (+ bias) to kuai.linear ---------------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

namespace kuai {
#define GEN_PASS_DEF_FUSELINEAR
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

bool isConstant2D(Value v) { return isConstantTensor(v) && getRank(v) == 2; }

/// The weight of `MatMul(x, W)` and whether it is used transposed.
std::optional<std::pair<Value, bool>> matchWeight(Value w) {
  if (isConstant2D(w))
    return std::make_pair(w, false);
  if (auto t = w.getDefiningOp<TransposeOp>()) {
    auto perm = t.getPerm();
    bool swap = !perm || (perm->size() == 2 && (*perm)[0] == 1);
    if (swap && isConstant2D(t.getData()))
      return std::make_pair(t.getData(), true);
  }
  return std::nullopt;
}

/// Replaces `anchor` by a linear when the linear's inferred type passes
/// `accept`; otherwise fails with nothing left built (a failing pattern must
/// not change the IR). A null `bias` means none.
LogicalResult replaceWithLinear(PatternRewriter &rewriter, Operation *anchor,
                                Value x, Value w, Value bias, bool transposed,
                                function_ref<bool(Type)> accept) {
  Operation *none = nullptr;
  if (!bias) {
    none = NoneOp::create(rewriter, anchor->getLoc(), rewriter.getNoneType());
    bias = none->getResult(0);
  }
  auto op = LinearOp::create(rewriter, anchor->getLoc(),
                             UnrankedTensorType::get(rewriter.getF32Type()), x,
                             w, bias, transposed);
  if (failed(inferTypesQuietly(op)) || !accept(op.getType())) {
    rewriter.eraseOp(op);
    if (none)
      rewriter.eraseOp(none);
    return failure();
  }
  rewriter.replaceOp(anchor, op.getResult());
  return success();
}

struct MatMulToLinear : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rewriter) const override {
    auto weight = matchWeight(op.getRhs());
    if (!weight || getRank(op.getLhs()) < 2)
      return failure();
    return replaceWithLinear(rewriter, op, op.getLhs(), weight->first, Value(),
                             weight->second,
                             [&](Type t) { return t == op.getType(); });
  }
};

struct GemmToLinear : OpRewritePattern<GemmOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GemmOp op,
                                PatternRewriter &rewriter) const override {
    if (op.getTransA() || op.getAlpha().convertToFloat() != 1.0f ||
        op.getBeta().convertToFloat() != 1.0f || !isConstant2D(op.getB()))
      return failure();
    Value bias = op.getC();
    if (!isa<NoneType>(bias.getType()) &&
        !(isConstantTensor(bias) && getRank(bias) == 1))
      return failure();
    return replaceWithLinear(rewriter, op, op.getA(), op.getB(), bias,
                             op.getTransB() != 0, [](Type) { return true; });
  }
};

/// linear(x, W) + b with a constant 1-D b of N values.
struct AddBias : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op,
                                PatternRewriter &rewriter) const override {
    for (auto [a, b] : {std::pair(op.getLhs(), op.getRhs()),
                        std::pair(op.getRhs(), op.getLhs())}) {
      auto linear = a.getDefiningOp<LinearOp>();
      if (!linear || !linear->hasOneUse() ||
          !isa<NoneType>(linear.getBias().getType()) || !isConstantTensor(b) ||
          getRank(b) != 1)
        continue;
      auto outType = dyn_cast<RankedTensorType>(linear.getType());
      auto biasType = cast<RankedTensorType>(b.getType());
      if (!outType || outType.isDynamicDim(outType.getRank() - 1) ||
          biasType.getDimSize(0) != outType.getDimSize(outType.getRank() - 1) ||
          op.getType() != linear.getType())
        continue;
      rewriter.modifyOpInPlace(linear,
                               [&] { linear.getBiasMutable().assign(b); });
      rewriter.replaceOp(op, linear.getResult());
      return success();
    }
    return failure();
  }
};

/// Reshape(linear(Reshape(x, [-1, K])), [d0, ..., N]) where x is
/// [d0, ..., K]: the reshapes only flatten and restore the leading dims.
struct LinearThroughFlatten : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rewriter) const override {
    auto linear = op.getData().getDefiningOp<LinearOp>();
    if (!linear || !linear->hasOneUse())
      return failure();
    auto flatten = linear.getInput().getDefiningOp<ReshapeOp>();
    if (!flatten)
      return failure();
    auto x = getSymDims(flatten.getData().getType());
    auto out = getSymDims(op.getType());
    auto flat = getSymDims(flatten.getType());
    if (!x || !out || !flat || flat->size() != 2 || x->size() != out->size() ||
        x->size() < 2 || x->back() != flat->back())
      return failure();
    for (size_t i = 0; i + 1 < x->size(); ++i)
      if (!(*x)[i].isKnown() || (*x)[i] != (*out)[i])
        return failure();
    return replaceWithLinear(rewriter, op, flatten.getData(),
                             linear.getWeight(), linear.getBias(),
                             linear.getTransposeWeight(),
                             [&](Type t) { return getSymDims(t) == out; });
  }
};

struct GatherToEmbedding : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op,
                                PatternRewriter &rewriter) const override {
    auto ids = dyn_cast<ShapedType>(op.getIndices().getType());
    if (op.getAxis() != 0 || !isConstant2D(op.getData()) || !ids ||
        !isa<IntegerType>(ids.getElementType()) ||
        ids.getElementType().isInteger(1))
      return failure();
    rewriter.replaceOpWithNewOp<EmbeddingOp>(op, op.getType(), op.getData(),
                                             op.getIndices());
    return success();
  }
};

class FuseLinear : public kuai::impl::FuseLinearBase<FuseLinear> {
public:
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<MatMulToLinear, GemmToLinear, AddBias, LinearThroughFlatten,
                 GatherToEmbedding>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      return signalPassFailure();
    eraseDeadKuaiOps(getOperation());
  }
};

} // namespace
