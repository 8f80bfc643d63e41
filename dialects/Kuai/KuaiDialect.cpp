//===- KuaiDialect.cpp - The kuai dialect ---------------------------------===//

#include "kuai/Dialect/KuaiDialect.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "mlir/IR/Matchers.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace kuai;

#include "KuaiDialect.cpp.inc"
#include "KuaiInterfaces.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "KuaiAttrs.cpp.inc"
#define GET_OP_CLASSES
#include "KuaiOps.cpp.inc"

void KuaiDialect::initialize() {
  registerAttributes();
  addOperations<
#define GET_OP_LIST
#include "KuaiOps.cpp.inc"
      >();
}

void KuaiDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "KuaiAttrs.cpp.inc"
      >();
}

Operation *KuaiDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                            Type type, Location loc) {
  if (isa<NoneType>(type))
    return NoneOp::create(builder, loc, builder.getNoneType());
  if (auto elements = dyn_cast<ElementsAttr>(value))
    return ConstantOp::create(builder, loc, type, elements);
  return nullptr;
}

//===----------------------------------------------------------------------===//
// #kuai.dims
//===----------------------------------------------------------------------===//

Attribute DimsAttr::parse(AsmParser &parser, Type) {
  SmallVector<StringAttr> dims;
  MLIRContext *ctx = parser.getContext();
  auto parseDim = [&]() -> ParseResult {
    std::string text;
    int64_t value;
    if (succeeded(parser.parseOptionalQuestion())) {
      text = "?";
    } else if (parser.parseOptionalInteger(value).has_value()) {
      text = std::to_string(value);
    } else if (failed(parser.parseOptionalString(&text))) {
      StringRef keyword;
      if (parser.parseKeyword(&keyword))
        return failure();
      text = keyword.str();
    }
    auto expr = SymExpr::parse(text);
    if (!expr)
      return parser.emitError(parser.getCurrentLocation(),
                              "invalid dimension expression '" + text + "'");
    dims.push_back(StringAttr::get(ctx, expr->str()));
    return success();
  };
  if (parser.parseLess())
    return {};
  if (failed(parser.parseOptionalGreater())) {
    if (parser.parseCommaSeparatedList(parseDim) || parser.parseGreater())
      return {};
  }
  return DimsAttr::get(ctx, dims);
}

void DimsAttr::print(AsmPrinter &printer) const {
  printer << "<";
  llvm::interleaveComma(getDims(), printer, [&](StringAttr dim) {
    StringRef text = dim.getValue();
    bool bare = text == "?" || llvm::all_of(text, [](char c) {
                  return std::isalnum(c) || c == '_' || c == '.';
                });
    // Keywords cannot start with a digit unless they are plain integers.
    if (bare && !text.empty() && std::isdigit(text[0]) &&
        !llvm::all_of(text, ::isdigit))
      bare = false;
    if (bare)
      printer << text;
    else
      printer << '"' << text << '"';
  });
  printer << ">";
}

SmallVector<SymExpr> DimsAttr::getExprs() const {
  SmallVector<SymExpr> exprs;
  for (StringAttr dim : getDims())
    exprs.push_back(SymExpr::parse(dim.getValue()).value_or(SymExpr()));
  return exprs;
}

DimsAttr DimsAttr::get(MLIRContext *ctx, ArrayRef<SymExpr> exprs) {
  SmallVector<StringAttr> dims;
  for (const SymExpr &e : exprs)
    dims.push_back(StringAttr::get(ctx, e.str()));
  return DimsAttr::get(ctx, dims);
}

//===----------------------------------------------------------------------===//
// Folders
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValueAttr(); }
OpFoldResult NoneOp::fold(FoldAdaptor) { return UnitAttr::get(getContext()); }
OpFoldResult IdentityOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return {};
}
OpFoldResult ConcatOp::fold(FoldAdaptor) {
  Value kept;
  for (Value input : getInputs()) {
    auto type = dyn_cast<RankedTensorType>(input.getType());
    int64_t axis =
        getAxis() < 0 && type ? getAxis() + type.getRank() : getAxis();
    bool empty = type && axis >= 0 && axis < type.getRank() &&
                 type.getDimSize(axis) == 0;
    if (empty)
      continue;
    if (kept)
      return {};
    kept = input;
  }
  if (kept && kept.getType() == getType())
    return kept;
  return {};
}

//===----------------------------------------------------------------------===//
// Type helpers
//===----------------------------------------------------------------------===//

std::optional<SmallVector<SymExpr>> kuai::getSymDims(Type type) {
  auto ranked = dyn_cast<RankedTensorType>(type);
  if (!ranked)
    return std::nullopt;
  auto encoding = dyn_cast_or_null<DimsAttr>(ranked.getEncoding());
  SmallVector<SymExpr> dims;
  for (auto [i, size] : llvm::enumerate(ranked.getShape())) {
    if (!ShapedType::isDynamic(size))
      dims.push_back(SymExpr::constant(size));
    else if (encoding && int64_t(encoding.getDims().size()) == ranked.getRank())
      dims.push_back(
          SymExpr::parse(encoding.getDims()[i].getValue()).value_or(SymExpr()));
    else
      dims.push_back(SymExpr());
  }
  return dims;
}

RankedTensorType kuai::makeTensorType(Type elementType,
                                      ArrayRef<SymExpr> dims) {
  SmallVector<int64_t> shape;
  bool anySymbolic = false;
  for (const SymExpr &d : dims) {
    if (auto c = d.getConstant(); c && *c >= 0) {
      shape.push_back(*c);
      continue;
    }
    shape.push_back(ShapedType::kDynamic);
    anySymbolic |= d.isKnown();
  }
  Attribute encoding;
  if (anySymbolic) {
    SmallVector<SymExpr> recorded(dims.begin(), dims.end());
    for (SymExpr &d : recorded)
      if (d.getConstant() && *d.getConstant() < 0)
        d = SymExpr();
    encoding = DimsAttr::get(elementType.getContext(), recorded);
  }
  return RankedTensorType::get(shape, elementType, encoding);
}

std::optional<SmallVector<int64_t>> kuai::getConstantInts(Value value) {
  ElementsAttr attr;
  if (!value || !matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  if (!isa<IntegerType>(attr.getElementType()) || attr.getNumElements() > 4096)
    return std::nullopt;
  auto values = attr.tryGetValues<APInt>();
  if (!values)
    return std::nullopt;
  SmallVector<int64_t> out;
  bool isBool = attr.getElementType().isInteger(1);
  for (APInt v : *values)
    out.push_back(isBool ? v.getZExtValue() : v.getSExtValue());
  return out;
}

std::optional<SmallVector<SymExpr>> kuai::getShapeValues(Value value) {
  if (!value)
    return std::nullopt;
  if (auto sym = value.getDefiningOp<SymTensorOp>())
    return sym.getValues().getExprs();
  auto ints = getConstantInts(value);
  if (!ints)
    return std::nullopt;
  SmallVector<SymExpr> out;
  for (int64_t v : *ints)
    out.push_back(SymExpr::constant(v));
  return out;
}

Type kuai::getElementTypeForOnnx(MLIRContext *ctx, int64_t code) {
  Builder b(ctx);
  switch (code) {
  case 1:
    return b.getF32Type();
  case 2:
    return IntegerType::get(ctx, 8, IntegerType::Unsigned);
  case 3:
    return b.getIntegerType(8);
  case 4:
    return IntegerType::get(ctx, 16, IntegerType::Unsigned);
  case 5:
    return b.getIntegerType(16);
  case 6:
    return b.getIntegerType(32);
  case 7:
    return b.getIntegerType(64);
  case 9:
    return b.getI1Type();
  case 10:
    return b.getF16Type();
  case 11:
    return b.getF64Type();
  case 12:
    return IntegerType::get(ctx, 32, IntegerType::Unsigned);
  case 13:
    return IntegerType::get(ctx, 64, IntegerType::Unsigned);
  case 16:
    return b.getBF16Type();
  default:
    return {};
  }
}

int64_t kuai::getOnnxTypeCode(Type type) {
  if (type.isF32())
    return 1;
  if (type.isF16())
    return 10;
  if (type.isBF16())
    return 16;
  if (type.isF64())
    return 11;
  if (type.isInteger(1))
    return 9;
  if (auto i = dyn_cast<IntegerType>(type)) {
    bool u = i.isUnsigned();
    switch (i.getWidth()) {
    case 8:
      return u ? 2 : 3;
    case 16:
      return u ? 4 : 5;
    case 32:
      return u ? 12 : 6;
    case 64:
      return u ? 13 : 7;
    }
  }
  return -1;
}
