//===- KvCache.cpp - Full-sequence causal LM to a paged KV cache ----------===//
//
// After raising, a causal LM attends with `kuai.attention` over the keys of
// its own tokens and takes positions 0..seq-1 implicitly (rotary from
// inv_freq). Both are what a KV cache changes: keys and values of earlier
// tokens come from cache pages and the chunk's positions start where the
// cache ends. Everything else (norms, linears, MLPs, MoE) is per token and
// stays as it is.
//
//===----------------------------------------------------------------------===//

#include "RaiseUtils.h"
#include "kuai/Passes/Passes.h"
#include "mlir/IR/Builders.h"

namespace kuai {
#define GEN_PASS_DEF_KVCACHE
#include "kuai/Passes/Passes.h.inc"
} // namespace kuai

using namespace mlir;
using namespace kuai;

namespace {

struct KvCache : kuai::impl::KvCacheBase<KvCache> {
  using KvCacheBase::KvCacheBase;

  void runOnOperation() override {
    func::FuncOp func = getOperation();
    if (failed(convert(func)))
      signalPassFailure();
  }

  LogicalResult convert(func::FuncOp func) {
    if (pageSize <= 0)
      return func.emitError() << "kuai-kv-cache: page-size must be positive";
    if (func.getNumArguments() != 1)
      return func.emitError()
             << "kuai-kv-cache: needs a causal LM with one input (token ids "
                "[batch, seq]), @"
             << func.getSymName() << " has " << func.getNumArguments();
    auto ids = getSymDims(func.getArgument(0).getType());
    if (!ids || ids->size() != 2 ||
        !isa<IntegerType>(getElementTypeOrSelf(func.getArgument(0))))
      return func.emitError() << "kuai-kv-cache: the input must be integer "
                                 "token ids [batch, seq]";
    SymExpr batch = (*ids)[0], seq = (*ids)[1];

    SmallVector<AttentionOp> attentions;
    SmallVector<RotaryOp> rotaries;
    SmallVector<std::pair<RangeOp, Value>> positionTables;
    WalkResult walk = func.walk([&](Operation *op) -> WalkResult {
      if (auto att = dyn_cast<AttentionOp>(op)) {
        if (failed(checkAttention(att, batch, seq)))
          return WalkResult::interrupt();
        attentions.push_back(att);
      } else if (auto rot = dyn_cast<RotaryOp>(op)) {
        auto dims = getSymDims(rot.getType());
        if (!rot.getInvFreq())
          return rot.emitError() << "kuai-kv-cache: rotary from cos/sin tables "
                                    "cannot be offset yet (only the inv_freq "
                                    "form)";
        if (!dims || dims->size() < 3 || (*dims)[0] != batch ||
            (*dims)[dims->size() - 2] != seq)
          return rot.emitError() << "kuai-kv-cache: rotary input must be "
                                    "[batch, ..., seq, d] of the chunk";
        rotaries.push_back(rot);
      } else if (auto range = dyn_cast<RangeOp>(op)) {
        Value embedded = matchLearnedPositions(range, batch, seq);
        if (!embedded)
          return op->emitError()
                 << "kuai-kv-cache: positions computed with Range must be "
                    "0 .. seq-1 looked up in a position embedding that is "
                    "added to the token embeddings";
        positionTables.push_back({range, embedded});
      }
      return WalkResult::advance();
    });
    if (walk.wasInterrupted())
      return failure();
    if (attentions.empty())
      return func.emitError() << "kuai-kv-cache: @" << func.getSymName()
                              << " has no attention to cache";

    OpBuilder b(func.getContext());
    Location loc = func.getLoc();
    Type i32 = b.getI32Type();
    SymExpr pages = SymExpr::symbol("kv_pages"),
            blocks = SymExpr::symbol("kv_blocks"),
            page = SymExpr::constant(pageSize);
    auto addInput = [&](Type type, StringRef name) -> Value {
      unsigned index = func.getNumArguments();
      if (failed(func.insertArgument(index, type,
                                     b.getDictionaryAttr(b.getNamedAttr(
                                         "kuai.name", b.getStringAttr(name))),
                                     loc)))
        return Value();
      return func.getArgument(index);
    };
    Value past = addInput(makeTensorType(i32, {batch}), "kv.past_lengths");
    Value table =
        addInput(makeTensorType(i32, {batch, blocks}), "kv.block_table");
    if (!past || !table)
      return func.emitError() << "kuai-kv-cache: cannot add inputs";

    for (RotaryOp rot : rotaries)
      rot.getPositionOffsetMutable().assign(past);
    for (auto [range, embedded] : positionTables)
      if (failed(offsetLearnedPositions(range, embedded, past)))
        return failure();

    auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
    SmallVector<Value> results(ret.getOperands());
    SmallVector<std::pair<std::string, unsigned>> cacheResults;
    for (auto [layer, att] : llvm::enumerate(attentions)) {
      auto k = *getSymDims(att.getKey().getType());
      auto v = *getSymDims(att.getValue().getType());
      std::string suffix = std::to_string(layer);
      Value keyCache =
          addInput(makeTensorType(getElementTypeOrSelf(att.getKey()),
                                  {pages, k[1], page, k[3]}),
                   "kv.key." + suffix);
      Value valueCache =
          addInput(makeTensorType(getElementTypeOrSelf(att.getValue()),
                                  {pages, v[1], page, v[3]}),
                   "kv.value." + suffix);
      if (!keyCache || !valueCache)
        return func.emitError() << "kuai-kv-cache: cannot add inputs";
      b.setInsertionPoint(att);
      auto paged = PagedAttentionOp::create(
          b, att.getLoc(),
          TypeRange{att.getType(), keyCache.getType(), valueCache.getType()},
          att.getQuery(), att.getKey(), att.getValue(), keyCache, valueCache,
          table, past, att.getScaleAttr(), b.getStringAttr(att.getMaskKind()),
          att.getWindowAttr());
      att.getResult().replaceAllUsesWith(paged.getOutput());
      att.erase();
      cacheResults.push_back(
          {"kv.key." + suffix, cast<BlockArgument>(keyCache).getArgNumber()});
      results.push_back(paged.getNewKeyCache());
      cacheResults.push_back({"kv.value." + suffix,
                              cast<BlockArgument>(valueCache).getArgNumber()});
      results.push_back(paged.getNewValueCache());
    }
    b.setInsertionPoint(ret);
    func::ReturnOp::create(b, ret.getLoc(), results);
    unsigned firstCacheResult = ret.getNumOperands();
    ret.erase();
    SmallVector<Type> resultTypes;
    for (Value r : results)
      resultTypes.push_back(r.getType());
    SmallVector<DictionaryAttr> resultAttrs;
    for (unsigned i = 0; i < firstCacheResult; ++i)
      resultAttrs.push_back(func.getResultAttrDict(i));
    for (auto &[name, input] : cacheResults)
      resultAttrs.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("kuai.name", b.getStringAttr(name)),
           b.getNamedAttr("kuai.updates", b.getI64IntegerAttr(input))}));
    func.setFunctionType(
        b.getFunctionType(func.getArgumentTypes(), resultTypes));
    func.setAllResultAttrs(resultAttrs);
    return success();
  }

  /// For `Range(0, seq, 1)` looked up in a position table (through
  /// unsqueezes on axis 0, before or after the lookup) and only added to
  /// `[batch, seq, d]` token embeddings, returns the looked-up value.
  Value matchLearnedPositions(RangeOp range, const SymExpr &batch,
                              const SymExpr &seq) {
    auto dims = getSymDims(range.getType());
    if (getScalarConstant(range.getStart()) != 0.0 ||
        getScalarConstant(range.getDelta()) != 1.0 || !dims ||
        dims->size() != 1 || (*dims)[0] != seq)
      return {};
    Value value = range.getResult();
    EmbeddingOp lookup;
    while (value.hasOneUse()) {
      Operation *user = *value.getUsers().begin();
      if (auto e = dyn_cast<EmbeddingOp>(user);
          e && !lookup && e.getIds() == value) {
        lookup = e;
        value = e.getResult();
        continue;
      }
      if (auto u = dyn_cast<UnsqueezeOp>(user);
          u && getSingleAxis(u.getAxes(), getRank(value) + 1) == 0) {
        value = u.getResult();
        continue;
      }
      break;
    }
    auto out = getSymDims(value.getType());
    if (!lookup || !out || out->size() < 2 || out->size() > 3 ||
        (*out)[out->size() - 2] != seq ||
        (out->size() == 3 && (*out)[0] != SymExpr::constant(1)))
      return {};
    for (Operation *user : value.getUsers()) {
      auto add = dyn_cast<AddOp>(user);
      auto sum = add ? getSymDims(add.getType()) : std::nullopt;
      if (!sum || sum->size() != 3 || (*sum)[0] != batch || (*sum)[1] != seq)
        return {};
    }
    return value;
  }

  /// Replaces the positions with `past[b] + (0 .. seq-1)`: the lookup
  /// becomes `[batch, seq, d]`, which the adds already broadcast to.
  LogicalResult offsetLearnedPositions(RangeOp range, Value embedded,
                                       Value past) {
    Operation *lookup = embedded.getDefiningOp();
    while (!isa<EmbeddingOp>(lookup))
      lookup = lookup->getOperand(0).getDefiningOp();
    OpBuilder b(embedded.getContext());
    b.setInsertionPointAfterValue(embedded);
    Location loc = range.getLoc();
    auto unranked = UnrankedTensorType::get(b.getI64Type());
    auto axis = ConstantOp::create(
        b, loc,
        DenseElementsAttr::get(RankedTensorType::get({1}, b.getI64Type()),
                               int64_t(1)));
    auto past64 = CastOp::create(b, loc, unranked, past, /*INT64*/ 7, 1);
    auto column = UnsqueezeOp::create(b, loc, unranked, past64, axis);
    auto positions = AddOp::create(b, loc, unranked, column, range);
    auto offset = EmbeddingOp::create(
        b, loc, UnrankedTensorType::get(getElementTypeOrSelf(embedded)),
        cast<EmbeddingOp>(lookup).getTable(), positions);
    for (Operation *op : {past64.getOperation(), column.getOperation(),
                          positions.getOperation(), offset.getOperation()})
      if (failed(inferTypesQuietly(op)))
        return range.emitError()
               << "kuai-kv-cache: cannot offset the learned positions";
    embedded.replaceAllUsesWith(offset.getResult());
    eraseDeadKuaiOps(embedded.getParentRegion()->getParentOp());
    return success();
  }

  /// Attention the cache can serve: causal (or sliding window) over the
  /// chunk's own keys and values.
  LogicalResult checkAttention(AttentionOp att, const SymExpr &batch,
                               const SymExpr &seq) {
    StringRef kind = att.getMaskKind();
    if (kind != "causal" && kind != "sliding_window")
      return att.emitError()
             << "kuai-kv-cache: attention with mask kind '" << kind
             << "' cannot use the cache (causal and sliding_window can)";
    auto q = getSymDims(att.getQuery().getType());
    auto k = getSymDims(att.getKey().getType());
    auto v = getSymDims(att.getValue().getType());
    if (!q || !k || !v || q->size() != 4 || k->size() != 4 || v->size() != 4 ||
        (*q)[0] != batch || (*q)[2] != seq || (*k)[2] != seq ||
        (*v)[2] != seq || !(*k)[1].getConstant() || !(*k)[3].getConstant() ||
        !(*v)[3].getConstant())
      return att.emitError()
             << "kuai-kv-cache: attention must be over the chunk's own "
                "tokens ([batch, heads, seq, d] with known heads and d)";
    return success();
  }
};

} // namespace
