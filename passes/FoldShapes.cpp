//===- FoldShapes.cpp - Shape subgraphs to static or symbolic shapes ------===//

#include "RaiseUtils.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "kuai/Passes/Passes.h"
#include "kuai/Reference/Executor.h"
#include "mlir/IR/Builders.h"
#include "mlir/Transforms/RegionUtils.h"
#include "llvm/ADT/TypeSwitch.h"

namespace kuai {
#define GEN_PASS_DEF_FOLDSHAPES
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

using Values = SmallVector<SymExpr>;

bool isStaticIntTensor(Type type) {
  auto t = dyn_cast<RankedTensorType>(type);
  return t && t.hasStaticShape() && isa<IntegerType>(t.getElementType()) &&
         t.getNumElements() <= 64;
}

/// Elementwise combination with scalar broadcasting.
std::optional<Values> combine(const Values &a, const Values &b,
                              function_ref<SymExpr(SymExpr, SymExpr)> f) {
  if (a.size() != b.size() && a.size() != 1 && b.size() != 1)
    return std::nullopt;
  Values out;
  for (size_t i = 0, n = std::max(a.size(), b.size()); i < n; ++i)
    out.push_back(f(a[a.size() == 1 ? 0 : i], b[b.size() == 1 ? 0 : i]));
  return out;
}

/// Comparison of dimension values; unknown unless decidable. Dimensions are
/// never negative, which decides comparisons with negative constants.
SymExpr compareEqual(const SymExpr &a, const SymExpr &b) {
  if (!a.isKnown() || !b.isKnown())
    return SymExpr();
  if (a == b)
    return SymExpr::constant(1);
  auto ca = a.getConstant(), cb = b.getConstant();
  if (ca && cb)
    return SymExpr::constant(0);
  if ((ca && *ca < 0) || (cb && *cb < 0))
    return SymExpr::constant(0);
  return SymExpr();
}

/// The symbolic contents of a small integer result, if they can be known.
std::optional<Values> evaluateSymbolically(Operation *op) {
  auto operand = [&](unsigned i) { return getShapeValues(op->getOperand(i)); };
  return llvm::TypeSwitch<Operation *, std::optional<Values>>(op)
      .Case<ShapeOp>([&](ShapeOp s) -> std::optional<Values> {
        auto dims = getSymDims(s.getData().getType());
        if (!dims || llvm::any_of(*dims, [](auto &d) { return !d.isKnown(); }))
          return std::nullopt;
        int64_t rank = dims->size();
        auto clampIdx = [&](int64_t v) {
          return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank);
        };
        int64_t start = clampIdx(s.getStart());
        int64_t end = clampIdx(s.getEnd().value_or(rank));
        return Values(dims->begin() + start,
                      dims->begin() + std::max(start, end));
      })
      .Case<SizeOp>([&](SizeOp s) -> std::optional<Values> {
        auto dims = getSymDims(s.getData().getType());
        if (!dims)
          return std::nullopt;
        SymExpr p = SymExpr::constant(1);
        for (auto &d : *dims)
          p = p * d;
        if (!p.isKnown())
          return std::nullopt;
        return Values{p};
      })
      .Case<GatherOp>([&](GatherOp g) -> std::optional<Values> {
        auto data = operand(0);
        auto idx = getConstantInts(g.getIndices());
        auto dataType = dyn_cast<RankedTensorType>(g.getData().getType());
        if (!data || !idx || !dataType || dataType.getRank() != 1)
          return std::nullopt;
        Values out;
        for (int64_t i : *idx) {
          int64_t j = i < 0 ? i + data->size() : i;
          if (j < 0 || j >= int64_t(data->size()))
            return std::nullopt;
          out.push_back((*data)[j]);
        }
        return out;
      })
      .Case<UnsqueezeOp, SqueezeOp, ReshapeOp, IdentityOp, FlattenOp, CastOp>(
          [&](Operation *o) -> std::optional<Values> {
            if (isa<CastOp>(o) &&
                !isa<IntegerType>(cast<ShapedType>(o->getOperand(0).getType())
                                      .getElementType()))
              return std::nullopt;
            return operand(0);
          })
      .Case<ConcatOp>([&](ConcatOp c) -> std::optional<Values> {
        Values out;
        for (unsigned i = 0; i < c->getNumOperands(); ++i) {
          auto v = operand(i);
          if (!v)
            return std::nullopt;
          out.append(*v);
        }
        return out;
      })
      .Case<SliceOp>([&](SliceOp s) -> std::optional<Values> {
        auto data = operand(0);
        auto starts = getConstantInts(s.getStarts());
        auto ends = getConstantInts(s.getEnds());
        if (!data || !starts || !ends || starts->size() != 1 ||
            ends->size() != 1)
          return std::nullopt;
        int64_t step = 1;
        if (!isa<NoneType>(s.getSteps().getType())) {
          auto steps = getConstantInts(s.getSteps());
          if (!steps || steps->size() != 1)
            return std::nullopt;
          step = (*steps)[0];
        }
        int64_t n = data->size(), b = (*starts)[0], e = (*ends)[0];
        if (step != 1)
          return std::nullopt;
        if (b < 0)
          b += n;
        if (e < 0)
          e += n;
        b = std::clamp<int64_t>(b, 0, n);
        e = std::clamp<int64_t>(e, 0, n);
        return Values(data->begin() + b, data->begin() + std::max(b, e));
      })
      .Case<AddOp, SubOp, MulOp, DivOp>(
          [&](Operation *o) -> std::optional<Values> {
            auto a = operand(0), b = operand(1);
            if (!a || !b)
              return std::nullopt;
            return combine(*a, *b, [&](SymExpr x, SymExpr y) {
              if (isa<AddOp>(o))
                return x + y;
              if (isa<SubOp>(o))
                return x - y;
              if (isa<MulOp>(o))
                return x * y;
              auto cx = x.getConstant(), cy = y.getConstant();
              if (cx && cy && *cy != 0)
                return SymExpr::constant(*cx / *cy);
              return x.exactDiv(y);
            });
          })
      .Case<EqualOp>([&](EqualOp) -> std::optional<Values> {
        auto a = operand(0), b = operand(1);
        if (!a || !b)
          return std::nullopt;
        return combine(*a, *b, compareEqual);
      })
      .Case<WhereOp>([&](WhereOp) -> std::optional<Values> {
        auto c = operand(0), x = operand(1), y = operand(2);
        if (!c || !x || !y)
          return std::nullopt;
        auto picked = combine(*c, *x, [](SymExpr cond, SymExpr v) {
          return cond.getConstant() == 0 ? SymExpr() : v;
        });
        size_t n = std::max({c->size(), x->size(), y->size()});
        Values out;
        for (size_t i = 0; i < n; ++i) {
          auto cond = (*c)[c->size() == 1 ? 0 : i].getConstant();
          if (!cond)
            return std::nullopt;
          const Values &from = *cond ? *x : *y;
          if (from.size() != 1 && from.size() != n)
            return std::nullopt;
          out.push_back(from[from.size() == 1 ? 0 : i]);
        }
        (void)picked;
        return out;
      })
      .Case<ConstantOfShapeOp>(
          [&](ConstantOfShapeOp c) -> std::optional<Values> {
            auto shape = getConstantInts(c.getShape());
            if (!shape || !c.getValue() || shape->size() != 1)
              return std::nullopt;
            auto value = c.getValue()->tryGetValues<APInt>();
            if (!value || !isa<IntegerType>(c.getValue()->getElementType()))
              return std::nullopt;
            return Values((*shape)[0],
                          SymExpr::constant((*value->begin()).getSExtValue()));
          })
      .Default([](Operation *) { return std::nullopt; });
}

class FoldShapes : public kuai::impl::FoldShapesBase<FoldShapes> {
public:
  using FoldShapesBase::FoldShapesBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    bool changed = true;
    for (int iteration = 0; changed && iteration < 16; ++iteration) {
      changed = false;
      for (Operation &op : llvm::make_early_inc_range(func.getBody().front())) {
        if (failed(refineTypes(&op))) {
          signalPassFailure();
          return;
        }
        if (isa<ConstantOp, SymTensorOp, NoneOp>(op) ||
            !isa<InferShapesOpInterface>(op))
          continue;
        if (foldSymbolic(&op) || foldConstant(&op))
          changed = true;
      }
      eraseDeadOps(func);
    }
    syncFunctionResultTypes(func);
  }

private:
  /// Replaces a small integer result whose contents are known.
  bool foldSymbolic(Operation *op) {
    if (op->getNumResults() != 1 ||
        !isStaticIntTensor(op->getResult(0).getType()))
      return false;
    auto values = evaluateSymbolically(op);
    auto type = cast<RankedTensorType>(op->getResult(0).getType());
    if (!values || int64_t(values->size()) != type.getNumElements() ||
        llvm::any_of(*values, [](auto &v) { return !v.isKnown(); }))
      return false;
    OpBuilder b(op);
    Value replacement;
    if (llvm::all_of(*values, [](auto &v) { return v.isConstant(); })) {
      SmallVector<APInt> ints;
      unsigned width = type.getElementType().getIntOrFloatBitWidth();
      for (auto &v : *values)
        ints.push_back(APInt(width, *v.getConstant(), /*isSigned=*/true,
                             /*implicitTrunc=*/true));
      replacement = ConstantOp::create(b, op->getLoc(),
                                       DenseElementsAttr::get(type, ints));
    } else if (type.getElementType().isInteger(64)) {
      replacement = SymTensorOp::create(
          b, op->getLoc(), type, DimsAttr::get(op->getContext(), *values));
    } else {
      return false;
    }
    op->getResult(0).replaceAllUsesWith(replacement);
    op->erase();
    return true;
  }

  /// Evaluates an op whose operands are all constants.
  bool foldConstant(Operation *op) {
    // Decide before decoding anything: weights must not be copied just to
    // find out that another operand is not constant.
    for (Value v : op->getOperands()) {
      if (isa<NoneType>(v.getType()))
        continue;
      auto c = v.getDefiningOp<ConstantOp>();
      if (!c || c.getValue().getNumElements() > maxFoldElements)
        return false;
    }
    // Reserved up front so the pointers into `inputs` stay valid.
    std::vector<ref::Tensor> inputs;
    inputs.reserve(op->getNumOperands());
    std::vector<const ref::Tensor *> ptrs;
    for (Value v : op->getOperands()) {
      if (isa<NoneType>(v.getType())) {
        ptrs.push_back(nullptr);
        continue;
      }
      auto c = v.getDefiningOp<ConstantOp>();
      if (!c)
        return false;
      inputs.push_back(ref::tensorFromAttr(c.getValue()));
      ptrs.push_back(&inputs.back());
    }
    std::vector<ref::Tensor> outputs;
    if (llvm::Error e = ref::evaluateOp(op, ptrs, outputs, {})) {
      // An op that fails on constants fails at run time too; leave it to
      // report there with the real inputs.
      llvm::consumeError(std::move(e));
      return false;
    }
    for (const ref::Tensor &t : outputs)
      if (t.numel() > maxFoldElements)
        return false;
    OpBuilder b(op);
    for (auto [result, t] : llvm::zip(op->getResults(), outputs))
      result.replaceAllUsesWith(
          ConstantOp::create(b, op->getLoc(), ref::tensorToAttr(t)));
    op->erase();
    return true;
  }

  /// Re-infers result types, keeping what is already known where inference
  /// knows less.
  LogicalResult refineTypes(Operation *op) {
    auto infer = dyn_cast<InferShapesOpInterface>(op);
    if (!infer)
      return success();
    SmallVector<Type> types;
    if (failed(infer.inferResultTypes(types)))
      return failure();
    for (auto [result, type] : llvm::zip(op->getResults(), types)) {
      auto inferred = getSymDims(type), current = getSymDims(result.getType());
      if (!inferred)
        continue;
      if (current && current->size() == inferred->size())
        for (auto [c, i] : llvm::zip(*current, *inferred))
          if (!i.isKnown())
            i = c;
      result.setType(
          makeTensorType(cast<ShapedType>(type).getElementType(), *inferred));
    }
    return success();
  }

  void eraseDeadOps(func::FuncOp func) {
    Block &body = func.getBody().front();
    for (Operation &op : llvm::make_early_inc_range(llvm::reverse(body)))
      if (op.use_empty() && isa<KuaiDialect>(op.getDialect()) && isPure(&op))
        op.erase();
  }
};

} // namespace
