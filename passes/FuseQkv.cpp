//===- FuseQkv.cpp - One projection for an attention's q, k and v ---------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"

namespace kuai {
#define GEN_PASS_DEF_FUSEQKV
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

/// The attention (and operand index) that `v` feeds through a single-use
/// chain of reshapes and transposes, or null.
std::pair<AttentionOp, unsigned> attentionFed(Value v) {
  while (v.hasOneUse()) {
    OpOperand &use = *v.getUses().begin();
    Operation *user = use.getOwner();
    if (auto att = dyn_cast<AttentionOp>(user))
      return use.getOperandNumber() < 3
                 ? std::make_pair(att, use.getOperandNumber())
                 : std::make_pair(AttentionOp(), 0u);
    if (!isa<ReshapeOp, TransposeOp>(user) || use.getOperandNumber() != 0)
      break;
    v = user->getResult(0);
  }
  return {AttentionOp(), 0u};
}

/// Whether `v` is a constant fp32, fp16 or bf16 tensor of rank `rank` (the
/// types whose values survive the reference tensors' fp32 storage).
bool isFloatConstant(Value v, int64_t rank) {
  if (!isConstantTensor(v) || getRank(v) != rank)
    return false;
  Type t = cast<ShapedType>(v.getType()).getElementType();
  return t.isF32() || t.isF16() || t.isBF16();
}

/// A projection that can join others: constant 2-D float weight, constant
/// float bias of the output's width or none, a ranked result whose last
/// dim is static.
bool fusable(LinearOp l) {
  auto out = dyn_cast<RankedTensorType>(l.getType());
  if (!out || out.isDynamicDim(out.getRank() - 1) ||
      !isFloatConstant(l.getWeight(), 2))
    return false;
  const int64_t n = out.getDimSize(out.getRank() - 1);
  auto weight = cast<ShapedType>(l.getWeight().getType());
  if (weight.getDimSize(l.getTransposeWeight() ? 0 : 1) != n)
    return false;
  return isa<NoneType>(l.getBias().getType()) ||
         (isFloatConstant(l.getBias(), 1) &&
          cast<ShapedType>(l.getBias().getType()).getDimSize(0) == n);
}

ref::Tensor constantOf(Value v) {
  return ref::tensorFromAttr(v.getDefiningOp<ConstantOp>().getValue());
}

/// Float constants of equal dims but along `axis`, concatenated along it.
ref::Tensor concatConstants(ArrayRef<Value> values, int64_t axis) {
  std::vector<ref::Tensor> parts;
  for (Value v : values)
    parts.push_back(constantOf(v));
  ref::Tensor out = parts[0];
  out.shape[axis] = 0;
  out.floats.clear();
  for (const ref::Tensor &t : parts)
    out.shape[axis] += t.shape[axis];
  int64_t outer = 1;
  for (int64_t d = 0; d < axis; ++d)
    outer *= out.shape[d];
  for (int64_t r = 0; r < outer; ++r)
    for (const ref::Tensor &t : parts) {
      const int64_t chunk = t.numel() / outer;
      out.floats.insert(out.floats.end(), t.floats.begin() + r * chunk,
                        t.floats.begin() + (r + 1) * chunk);
    }
  return out;
}

/// Replaces `group` (in block order) by one linear and a split.
void fuse(ArrayRef<LinearOp> group) {
  LinearOp first = group.front();
  OpBuilder b(first);
  Location loc = first.getLoc();
  const bool transposed = first.getTransposeWeight();
  SmallVector<Value> weights, biases;
  for (LinearOp l : group) {
    weights.push_back(l.getWeight());
    biases.push_back(l.getBias());
  }
  // Side by side along the output dim: the rows of [out, in] weights, the
  // columns of [in, out] ones.
  Value weight = ConstantOp::create(
      b, loc, ref::tensorToAttr(concatConstants(weights, transposed ? 0 : 1)));
  Value bias = first.getBias();
  if (!isa<NoneType>(bias.getType()))
    bias = ConstantOp::create(b, loc,
                              ref::tensorToAttr(concatConstants(biases, 0)));
  auto fused = LinearOp::create(b, loc, UnrankedTensorType::get(b.getF32Type()),
                                first.getInput(), weight, bias, transposed);
  if (failed(inferTypesQuietly(fused))) {
    // Cannot happen for projections that type-checked alone; leave them.
    Operation *biasOp = bias.getDefiningOp();
    fused.erase();
    weight.getDefiningOp()->erase();
    if (biasOp != first.getBias().getDefiningOp())
      biasOp->erase();
    return;
  }
  const int64_t axis = cast<RankedTensorType>(first.getType()).getRank() - 1;
  ref::Tensor sizes(b.getI64Type(), {int64_t(group.size())});
  SmallVector<Type> types;
  for (size_t i = 0; i < group.size(); ++i) {
    LinearOp l = group[i];
    sizes.ints[i] = cast<RankedTensorType>(l.getType()).getDimSize(axis);
    types.push_back(l.getType());
  }
  Value sizesValue = ConstantOp::create(b, loc, ref::tensorToAttr(sizes));
  auto split = SplitOp::create(b, loc, types, fused.getResult(), sizesValue,
                               b.getI64IntegerAttr(axis), IntegerAttr());
  for (size_t i = 0; i < group.size(); ++i) {
    LinearOp l = group[i];
    l.getResult().replaceAllUsesWith(split.getResult(i));
    l.erase();
  }
}

class FuseQkv : public kuai::impl::FuseQkvBase<FuseQkv> {
public:
  void runOnOperation() override {
    // Projections of one input feeding one attention, in block order.
    llvm::MapVector<std::pair<Value, Operation *>, SmallVector<LinearOp>>
        groups;
    getOperation().walk([&](LinearOp l) {
      auto [att, index] = attentionFed(l.getResult());
      if (att && fusable(l))
        groups[{l.getInput(), att.getOperation()}].push_back(l);
    });
    for (auto &[key, group] : groups) {
      LinearOp first = group.front();
      auto elementOf = [](Value v) {
        return isa<NoneType>(v.getType())
                   ? Type()
                   : cast<ShapedType>(v.getType()).getElementType();
      };
      // One layout, one rank, one element type for results, weights and
      // biases (a bias absent everywhere or present everywhere).
      bool same =
          group.size() >= 2 && llvm::all_of(group, [&](LinearOp l) {
            auto t = cast<RankedTensorType>(l.getType());
            auto t0 = cast<RankedTensorType>(first.getType());
            return l.getTransposeWeight() == first.getTransposeWeight() &&
                   t.getRank() == t0.getRank() &&
                   t.getElementType() == t0.getElementType() &&
                   elementOf(l.getWeight()) == elementOf(first.getWeight()) &&
                   isa<NoneType>(l.getBias().getType()) ==
                       isa<NoneType>(first.getBias().getType()) &&
                   elementOf(l.getBias()) == elementOf(first.getBias());
          });
      if (same)
        fuse(group);
    }
    eraseDeadKuaiOps(getOperation());
  }
};

} // namespace
