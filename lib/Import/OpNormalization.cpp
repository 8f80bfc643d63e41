//===- OpNormalization.cpp - Older opset forms to the newest
//---------------===//
//
// Grouped by what changed between opsets 13 and 21: axes and split sizes that
// moved from attributes to inputs, Clip bounds, Constant's value_* forms.
//
//===----------------------------------------------------------------------===//

#include "ImportHelpers.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "llvm/ADT/StringSwitch.h"

using namespace mlir;
using namespace kuai;

namespace {

Attribute takeAttr(OperationState &state, StringRef name) {
  Attribute value = state.attributes.get(name);
  if (value)
    state.attributes.erase(name);
  return value;
}

Value makeI64Constant(NormalizeContext &ctx, ArrayRef<int64_t> values) {
  auto type =
      RankedTensorType::get({int64_t(values.size())}, ctx.builder.getI64Type());
  return ConstantOp::create(ctx.builder, ctx.loc,
                            DenseElementsAttr::get(type, values));
}

/// Moves an INTS attribute into operand position `index`.
void attrToInput(NormalizeContext &ctx, OperationState &state, StringRef name,
                 unsigned index) {
  Attribute attr = takeAttr(state, name);
  if (!attr)
    return;
  auto ints = cast<DenseI64ArrayAttr>(attr).asArrayRef();
  while (state.operands.size() <= index)
    state.operands.push_back(ctx.none);
  state.operands[index] = makeI64Constant(ctx, ints);
}

/// The number of ONNX inputs of ops whose trailing inputs are optional.
unsigned getMaxInputs(StringRef opType) {
  if (opType.starts_with("Reduce"))
    return 2;
  return llvm::StringSwitch<unsigned>(opType)
      .Cases({"Clip", "Dropout", "Gemm", "LayerNormalization"}, 3)
      .Cases({"Squeeze", "Split", "Trilu"}, 2)
      .Case("Slice", 5)
      .Default(0);
}

LogicalResult normalizeConstant(NormalizeContext &ctx, OperationState &state) {
  Builder &b = ctx.builder;
  auto scalarOr1D = [&](Type elem, int64_t n, bool scalar) {
    return RankedTensorType::get(
        scalar ? ArrayRef<int64_t>{} : ArrayRef<int64_t>{n}, elem);
  };
  Attribute value;
  if (Attribute v = takeAttr(state, "value"))
    value = v;
  else if (auto f = dyn_cast_or_null<FloatAttr>(takeAttr(state, "value_float")))
    value = DenseElementsAttr::get(scalarOr1D(b.getF32Type(), 1, true),
                                   f.getValue());
  else if (auto i = dyn_cast_or_null<IntegerAttr>(takeAttr(state, "value_int")))
    value = DenseElementsAttr::get(scalarOr1D(b.getI64Type(), 1, true),
                                   i.getValue());
  else if (auto fs = dyn_cast_or_null<DenseF32ArrayAttr>(
               takeAttr(state, "value_floats")))
    value = DenseElementsAttr::get(scalarOr1D(b.getF32Type(), fs.size(), false),
                                   fs.asArrayRef());
  else if (auto is = dyn_cast_or_null<DenseI64ArrayAttr>(
               takeAttr(state, "value_ints")))
    value = DenseElementsAttr::get(scalarOr1D(b.getI64Type(), is.size(), false),
                                   is.asArrayRef());
  if (!value)
    return emitError(ctx.loc)
           << "Constant node has no supported value attribute (sparse and "
              "string constants are not supported)";
  state.attributes.clear();
  state.addAttribute("value", value);
  return success();
}

LogicalResult normalizeClip(NormalizeContext &ctx, OperationState &state) {
  // Opset 6 form: min and max attributes.
  for (auto [name, index] : {std::pair<StringRef, unsigned>{"min", 1},
                             std::pair<StringRef, unsigned>{"max", 2}}) {
    auto attr = dyn_cast_or_null<FloatAttr>(takeAttr(state, name));
    if (!attr)
      continue;
    while (state.operands.size() <= index)
      state.operands.push_back(ctx.none);
    auto type = RankedTensorType::get({}, ctx.builder.getF32Type());
    state.operands[index] = ConstantOp::create(
        ctx.builder, ctx.loc, DenseElementsAttr::get(type, attr.getValue()));
  }
  return success();
}

/// Before opset 13, Softmax, LogSoftmax and Hardmax flattened the input to
/// 2-D at `axis` (default 1); that equals the new semantics only on the last
/// axis.
LogicalResult checkOldSoftmax(NormalizeContext &ctx, OperationState &state,
                              StringRef opType) {
  if (ctx.opset >= 13)
    return success();
  auto type = dyn_cast<RankedTensorType>(state.operands[0].getType());
  int64_t axis = 1;
  if (auto attr = dyn_cast_or_null<IntegerAttr>(state.attributes.get("axis")))
    axis = attr.getInt();
  else
    state.addAttribute("axis", ctx.builder.getI64IntegerAttr(1));
  if (type && (axis == -1 || axis == type.getRank() - 1))
    return success();
  return emitError(ctx.loc) << opType << " of opset " << ctx.opset
                            << " normalises over the flattened dims from "
                               "axis "
                            << axis
                            << "; only the last axis is supported before "
                               "opset 13";
}

LogicalResult normalizeDropout(NormalizeContext &ctx, OperationState &state) {
  takeAttr(state, "ratio"); // opset < 12; irrelevant at inference
  if (state.operands.size() > 2 &&
      !isa<NoneType>(state.operands[2].getType())) {
    auto mode = getConstantInts(state.operands[2]);
    if (!mode || mode->size() != 1 || (*mode)[0] != 0)
      return emitError(ctx.loc) << "Dropout with training_mode that is not a "
                                   "constant false is not supported (kuai "
                                   "compiles for inference)";
  }
  return success();
}

} // namespace

LogicalResult kuai::normalizeOnnxNode(StringRef opType, NormalizeContext &ctx,
                                      OperationState &state) {
  if (opType == "Constant")
    return normalizeConstant(ctx, state);
  if (opType == "Squeeze" || opType == "Unsqueeze" ||
      opType.starts_with("Reduce"))
    attrToInput(ctx, state, "axes", 1);
  if (opType == "Split")
    attrToInput(ctx, state, "split", 1);
  if (opType == "Clip" && failed(normalizeClip(ctx, state)))
    return failure();
  unsigned maxInputs = getMaxInputs(opType);
  while (state.operands.size() < maxInputs)
    state.operands.push_back(ctx.none);
  if (opType == "Dropout" && failed(normalizeDropout(ctx, state)))
    return failure();
  if ((opType == "Softmax" || opType == "LogSoftmax" || opType == "Hardmax") &&
      failed(checkOldSoftmax(ctx, state, opType)))
    return failure();
  return success();
}

unsigned kuai::getNumOnnxResults(StringRef opType, unsigned nodeOutputs) {
  return llvm::StringSwitch<unsigned>(opType)
      .Case("LayerNormalization", 3)
      .Cases({"Dropout", "TopK"}, 2)
      .Case("Split", nodeOutputs)
      .Default(1);
}
