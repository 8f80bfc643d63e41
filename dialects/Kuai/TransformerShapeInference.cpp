//===- TransformerShapeInference.cpp - Result types of transformer ops ----===//

#include "kuai/Dialect/KuaiDialect.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kuai;

namespace {

using Dims = SmallVector<SymExpr>;

Type elementOf(Value v) {
  return cast<ShapedType>(v.getType()).getElementType();
}

LogicalResult push(SmallVectorImpl<Type> &types, Type elem,
                   std::optional<Dims> dims) {
  types.push_back(dims ? Type(makeTensorType(elem, *dims))
                       : Type(UnrankedTensorType::get(elem)));
  return success();
}

bool conflict(const SymExpr &a, const SymExpr &b) {
  return a.getConstant() && b.getConstant() && a != b;
}

LogicalResult inferLinear(LinearOp op, SmallVectorImpl<Type> &types) {
  auto x = getSymDims(op.getInput().getType());
  auto w = getSymDims(op.getWeight().getType());
  Type elem = elementOf(op.getInput());
  if (!x || !w)
    return push(types, elem, std::nullopt);
  if (w->size() != 2 || x->empty())
    return op.emitOpError() << "needs a 2-D weight and an input of rank >= 1";
  SymExpr k = op.getTransposeWeight() ? (*w)[1] : (*w)[0];
  SymExpr n = op.getTransposeWeight() ? (*w)[0] : (*w)[1];
  if (conflict(x->back(), k))
    return op.emitOpError() << "input features " << x->back().str()
                            << " differ from the weight's " << k.str();
  Dims out = *x;
  out.back() = n;
  return push(types, elem, out);
}

LogicalResult inferAttention(AttentionOp op, SmallVectorImpl<Type> &types) {
  auto q = getSymDims(op.getQuery().getType());
  auto k = getSymDims(op.getKey().getType());
  auto v = getSymDims(op.getValue().getType());
  Type elem = elementOf(op.getQuery());
  if (!q || !k || !v)
    return push(types, elem, std::nullopt);
  if (q->size() != 4 || k->size() != 4 || v->size() != 4)
    return op.emitOpError() << "query, key and value must be [B, H, S, D]";
  auto hq = (*q)[1].getConstant(), hkv = (*k)[1].getConstant();
  if (hq && hkv && (*hkv == 0 || *hq % *hkv != 0))
    return op.emitOpError()
           << "query heads " << *hq << " are not a multiple of key/value heads "
           << *hkv;
  if (conflict((*q)[3], (*k)[3]) || conflict((*k)[2], (*v)[2]) ||
      conflict((*k)[1], (*v)[1]))
    return op.emitOpError() << "query/key head size or key/value length "
                               "and heads disagree";
  StringRef kind = op.getMaskKind();
  bool needsMask =
      kind == "bias" || kind == "padding" || kind == "causal_padding";
  bool known = needsMask || kind == "none" || kind == "causal" ||
               kind == "sliding_window";
  if (!known)
    return op.emitOpError() << "unknown mask_kind '" << kind << "'";
  if (needsMask == isa<NoneType>(op.getMask().getType()))
    return op.emitOpError()
           << "mask_kind '" << kind << "' "
           << (needsMask ? "needs" : "takes no") << " mask operand";
  if (kind == "sliding_window" && op.getWindow() <= 0)
    return op.emitOpError() << "sliding_window needs a positive window";
  return push(types, elem, Dims{(*q)[0], (*q)[1], (*q)[2], (*v)[3]});
}

LogicalResult inferRotary(RotaryOp op, SmallVectorImpl<Type> &types) {
  auto x = getSymDims(op.getInput().getType());
  bool fromFreq = op.getInvFreq().has_value();
  bool hasCos = !isa<NoneType>(op.getCos().getType());
  bool hasSin = !isa<NoneType>(op.getSin().getType());
  if (fromFreq == (hasCos || hasSin) || hasCos != hasSin)
    return op.emitOpError()
           << "needs either cos and sin operands or inv_freq, not both";
  if (x) {
    auto d = x->back().getConstant();
    int64_t rd = op.getRotaryDim();
    if (d && (rd < 0 || rd > *d || rd % 2 != 0))
      return op.emitOpError()
             << "rotary_dim " << rd << " must be even and at most " << *d;
    int64_t rot = rd ? rd : d.value_or(0);
    if (fromFreq && rot && int64_t(op.getInvFreq()->size()) * 2 != rot)
      return op.emitOpError() << "inv_freq has " << op.getInvFreq()->size()
                              << " entries for " << rot << " rotated features";
  }
  if (!isa<NoneType>(op.getPositionOffset().getType())) {
    auto offset = getSymDims(op.getPositionOffset().getType());
    if (!fromFreq)
      return op.emitOpError() << "position_offset needs the inv_freq form";
    if (!isa<IntegerType>(elementOf(op.getPositionOffset())) ||
        (offset && offset->size() != 1) || (x && x->size() < 2) ||
        (offset && x && conflict((*offset)[0], (*x)[0])))
      return op.emitOpError()
             << "position_offset must be integers [batch] for an input "
                "[batch, ..., seq, d]";
  }
  return push(types, elementOf(op.getInput()), x);
}

LogicalResult inferPagedAttention(PagedAttentionOp op,
                                  SmallVectorImpl<Type> &types) {
  auto q = getSymDims(op.getQuery().getType());
  auto k = getSymDims(op.getKey().getType());
  auto v = getSymDims(op.getValue().getType());
  auto kc = getSymDims(op.getKeyCache().getType());
  auto vc = getSymDims(op.getValueCache().getType());
  auto table = getSymDims(op.getBlockTable().getType());
  auto past = getSymDims(op.getPastLengths().getType());
  Type elem = elementOf(op.getQuery());
  if (!q || !k || !v || !kc || !vc || !table || !past)
    return op.emitOpError() << "needs ranked operands";
  if (q->size() != 4 || k->size() != 4 || v->size() != 4 || kc->size() != 4 ||
      vc->size() != 4)
    return op.emitOpError() << "query, key and value must be [B, H, S, D] and "
                               "the caches [pages, H, page size, D]";
  if (table->size() != 2 || past->size() != 1 ||
      !isa<IntegerType>(elementOf(op.getBlockTable())) ||
      !isa<IntegerType>(elementOf(op.getPastLengths())))
    return op.emitOpError() << "block_table must be integers [B, blocks] and "
                               "past_lengths integers [B]";
  auto hq = (*q)[1].getConstant(), hkv = (*k)[1].getConstant();
  if (!hq || !hkv || *hkv == 0 || *hq % *hkv != 0)
    return op.emitOpError() << "query heads must be a known multiple of the "
                               "key/value heads";
  if (conflict((*q)[3], (*k)[3]) || conflict((*k)[2], (*v)[2]) ||
      conflict((*k)[1], (*v)[1]) || (*q)[2] != (*k)[2])
    return op.emitOpError() << "query, key and value must be the same chunk "
                               "of tokens with matching heads and head size";
  if ((*kc)[1] != (*k)[1] || (*kc)[3] != (*k)[3] || (*vc)[1] != (*v)[1] ||
      (*vc)[3] != (*v)[3] || (*kc)[2] != (*vc)[2] || (*kc)[0] != (*vc)[0] ||
      !(*kc)[2].getConstant() || *(*kc)[2].getConstant() <= 0)
    return op.emitOpError() << "caches must be [pages, Hkv, page size, D] with "
                               "the key's and value's heads and sizes";
  if (elementOf(op.getKeyCache()) != elementOf(op.getKey()) ||
      elementOf(op.getValueCache()) != elementOf(op.getValue()))
    return op.emitOpError() << "caches must hold the key's and value's "
                               "element type";
  StringRef kind = op.getMaskKind();
  if (kind != "causal" && kind != "sliding_window")
    return op.emitOpError()
           << "mask_kind must be causal or sliding_window, not '" << kind
           << "'";
  if (kind == "sliding_window" && op.getWindow() <= 0)
    return op.emitOpError() << "sliding_window needs a positive window";
  push(types, elem, Dims{(*q)[0], (*q)[1], (*q)[2], (*v)[3]});
  types.push_back(op.getKeyCache().getType());
  types.push_back(op.getValueCache().getType());
  return success();
}

} // namespace

std::optional<LogicalResult>
kuai::inferTransformerResultTypes(Operation *op, SmallVectorImpl<Type> &types) {
  return llvm::TypeSwitch<Operation *, std::optional<LogicalResult>>(op)
      .Case<LinearOp>([&](LinearOp l) { return inferLinear(l, types); })
      .Case<AttentionOp>(
          [&](AttentionOp a) { return inferAttention(a, types); })
      .Case<RotaryOp>([&](RotaryOp r) { return inferRotary(r, types); })
      .Case<PagedAttentionOp>(
          [&](PagedAttentionOp a) { return inferPagedAttention(a, types); })
      .Case<EmbeddingOp>([&](EmbeddingOp e) -> LogicalResult {
        auto table = getSymDims(e.getTable().getType());
        auto ids = getSymDims(e.getIds().getType());
        Type elem = elementOf(e.getTable());
        if (!table || !ids)
          return push(types, elem, std::nullopt);
        if (table->size() != 2)
          return e.emitOpError() << "table must be 2-D";
        Dims out = *ids;
        out.push_back((*table)[1]);
        return push(types, elem, out);
      })
      .Case<MoeOp>([&](MoeOp m) -> LogicalResult {
        int64_t n = m.getExperts().size();
        if (n == 0 || n % 3)
          return m.emitOpError() << "needs gate, up and down weights per "
                                    "expert, got "
                                 << n << " expert operands";
        auto router = getSymDims(m.getRouter().getType());
        int64_t experts = n / 3;
        if (router && router->size() == 2) {
          auto e = (m.getRouterTransposed() ? (*router)[0] : (*router)[1])
                       .getConstant();
          if (e && *e != experts)
            return m.emitOpError() << "router has " << *e << " outputs for "
                                   << experts << " experts";
        }
        if (m.getTopK() < 1 || m.getTopK() > experts)
          return m.emitOpError()
                 << "top_k " << m.getTopK() << " is out of range for "
                 << experts << " experts";
        StringRef act = m.getActivation();
        if (act != "silu" && act != "gelu" && act != "gelu_tanh")
          return m.emitOpError() << "unknown activation '" << act << "'";
        return push(types, elementOf(m.getInput()),
                    getSymDims(m.getInput().getType()));
      })
      .Case<RmsNormOp, LayerNormOp, SiluOp>([&](Operation *o) {
        return push(types, elementOf(o->getOperand(0)),
                    getSymDims(o->getOperand(0).getType()));
      })
      .Case<GluOp>([&](GluOp g) -> LogicalResult {
        StringRef act = g.getActivation();
        if (act != "silu" && act != "gelu" && act != "gelu_tanh")
          return g.emitOpError() << "unknown activation '" << act << "'";
        return push(types, elementOf(g.getGate()),
                    getSymDims(g.getGate().getType()));
      })
      .Default([](Operation *) { return std::nullopt; });
}
