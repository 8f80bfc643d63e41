//===- OnnxImporter.cpp - ONNX to kuai graph IR ---------------------------===//
//
// The importer is table driven: every kuai op declares the ONNX op type it
// implements (`kOnnxName` in ODS), attributes are converted generically by
// their ONNX type, and the per-op functions in OpNormalization.cpp rewrite
// older opset forms (attributes that became inputs) into the newest form.
//
//===----------------------------------------------------------------------===//

#include "kuai/Import/OnnxImporter.h"
#include "ImportHelpers.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "kuai/Support/PastPresent.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include <fcntl.h>
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <map>
#include <unistd.h>

using namespace mlir;
using namespace kuai;

namespace {

template <typename Op, typename = void> struct OnnxNameOf {
  static void add(llvm::StringMap<StringRef> &) {}
};
template <typename Op>
struct OnnxNameOf<Op, std::void_t<decltype(Op::kOnnxName)>> {
  static void add(llvm::StringMap<StringRef> &table) {
    table[Op::kOnnxName] = Op::getOperationName();
  }
};
template <typename... Ops> llvm::StringMap<StringRef> makeOnnxOpTable() {
  llvm::StringMap<StringRef> table;
  (OnnxNameOf<Ops>::add(table), ...);
  return table;
}

const llvm::StringMap<StringRef> &onnxOpTable() {
  static const llvm::StringMap<StringRef> table = makeOnnxOpTable<
#define GET_OP_LIST
#include "KuaiOps.cpp.inc"
      >();
  return table;
}

/// Memory maps of external data files, shared by the blobs that point into
/// them and released when the last blob goes.
class ExternalFiles {
public:
  FailureOr<ArrayRef<char>> slice(StringRef path, uint64_t offset,
                                  std::optional<uint64_t> length,
                                  std::string &error,
                                  std::shared_ptr<void> &keepAlive) {
    auto &region = regions[path.str()];
    if (!region) {
      int fd = ::open(path.str().c_str(), O_RDONLY);
      if (fd < 0) {
        error = "cannot open external data file '" + path.str() + "'";
        return failure();
      }
      uint64_t size = 0;
      if (llvm::sys::fs::file_size(path, size)) {
        ::close(fd);
        error = "cannot stat external data file '" + path.str() + "'";
        return failure();
      }
      std::error_code ec;
      auto mapped = std::make_shared<llvm::sys::fs::mapped_file_region>(
          llvm::sys::fs::convertFDToNativeFile(fd),
          llvm::sys::fs::mapped_file_region::readonly, size, 0, ec);
      ::close(fd);
      if (ec) {
        error = "cannot map external data file '" + path.str() +
                "': " + ec.message();
        return failure();
      }
      region = mapped;
    }
    uint64_t size = region->size();
    uint64_t len = length.value_or(size - std::min(size, offset));
    if (offset > size || len > size - offset) {
      error = "external data range [" + std::to_string(offset) + ", " +
              std::to_string(offset + len) + ") is outside '" + path.str() +
              "' (" + std::to_string(size) + " bytes)";
      return failure();
    }
    keepAlive = region;
    return ArrayRef<char>(region->const_data() + offset, len);
  }

private:
  std::map<std::string, std::shared_ptr<llvm::sys::fs::mapped_file_region>>
      regions;
};

class Importer {
public:
  Importer(MLIRContext *ctx, StringRef path, const ImportOptions &options)
      : ctx(ctx), builder(ctx), path(path.str()), options(options) {}

  OwningOpRef<ModuleOp> run();

private:
  MLIRContext *ctx;
  OpBuilder builder;
  std::string path;
  ImportOptions options;
  onnx::ModelProto model;
  int64_t opset = 0;
  llvm::StringMap<Value> values;
  Value noneValue;
  ExternalFiles externalFiles;

  InFlightDiagnostic fileError() {
    return emitError(FileLineColLoc::get(ctx, path, 0, 0));
  }
  Location nodeLoc(const onnx::NodeProto &node, size_t index) {
    std::string name = node.name().empty()
                           ? node.op_type() + "#" + std::to_string(index)
                           : node.name();
    return NameLoc::get(StringAttr::get(ctx, name),
                        FileLineColLoc::get(ctx, path, 0, 0));
  }

  LogicalResult parse();
  LogicalResult checkSupported();
  FailureOr<Type> importValueType(const onnx::ValueInfoProto &info);
  FailureOr<ElementsAttr> importTensor(onnx::TensorProto &tensor, Location loc);
  LogicalResult importNode(onnx::NodeProto &node, size_t index);
  FailureOr<NamedAttribute> importAttribute(onnx::AttributeProto &attr,
                                            Location loc);
  Value none() { return noneValue; }
};

LogicalResult Importer::parse() {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0)
    return fileError() << "cannot open ONNX model file";
  uint64_t size = 0;
  llvm::sys::fs::file_size(path, size);
  google::protobuf::io::FileInputStream raw(fd);
  google::protobuf::io::CodedInputStream coded(&raw);
  coded.SetTotalBytesLimit(INT_MAX);
  bool ok = model.ParseFromCodedStream(&coded) && coded.ConsumedEntireMessage();
  ::close(fd);
  if (!ok)
    return fileError() << "not a valid ONNX model: the protobuf does not parse "
                          "(file of "
                       << size << " bytes; truncated or not ONNX?)";
  if (!model.has_graph() || model.ir_version() <= 0)
    return fileError() << "not a valid ONNX model: "
                       << (model.has_graph() ? "no ir_version" : "no graph")
                       << " (file of " << size << " bytes)";
  for (const auto &o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      opset = o.version();
  if (opset == 0)
    return fileError() << "model imports no default-domain opset";
  // Older opsets are accepted op by op: forms that changed (attributes that
  // became inputs, Softmax's 2-D coercion) are converted or rejected by the
  // node importer, not by the model's opset number.
  return success();
}

LogicalResult Importer::checkSupported() {
  // Gather every unsupported op type with all its nodes, so the user sees the
  // whole list at once.
  std::map<std::string, std::vector<std::string>> unsupported;
  for (const auto &[i, node] : llvm::enumerate(model.graph().node())) {
    bool defaultDomain = node.domain().empty() || node.domain() == "ai.onnx";
    std::string key =
        defaultDomain ? node.op_type() : node.domain() + "::" + node.op_type();
    if (defaultDomain && onnxOpTable().count(node.op_type()))
      continue;
    unsupported[key].push_back(node.name().empty() ? "#" + std::to_string(i)
                                                   : node.name());
  }
  if (unsupported.empty())
    return success();
  auto diag = fileError() << "unsupported ONNX op types:";
  for (const auto &[op, nodes] : unsupported) {
    diag << "\n  " << op << " (" << nodes.size() << " node"
         << (nodes.size() == 1 ? "" : "s") << ": ";
    for (size_t i = 0; i < nodes.size() && i < 8; ++i)
      diag << (i ? ", " : "") << nodes[i];
    if (nodes.size() > 8)
      diag << ", ...";
    diag << ")";
  }
  return failure();
}

FailureOr<Type> Importer::importValueType(const onnx::ValueInfoProto &info) {
  const auto &type = info.type();
  if (!type.has_tensor_type())
    return fileError() << "graph value '" << info.name() << "' is not a tensor";
  Type elem = getElementTypeForOnnx(ctx, type.tensor_type().elem_type());
  if (!elem)
    return fileError() << "graph value '" << info.name()
                       << "' has unsupported data type "
                       << type.tensor_type().elem_type();
  if (!type.tensor_type().has_shape())
    return Type(UnrankedTensorType::get(elem));
  SmallVector<SymExpr> dims;
  for (const auto &d : type.tensor_type().shape().dim()) {
    if (d.has_dim_value())
      dims.push_back(SymExpr::constant(d.dim_value()));
    else if (d.has_dim_param() && SymExpr::parse(d.dim_param()) &&
             SymExpr::parse(d.dim_param())->isKnown())
      dims.push_back(*SymExpr::parse(d.dim_param()));
    else
      dims.push_back(SymExpr());
  }
  return Type(makeTensorType(elem, dims));
}

FailureOr<ElementsAttr> Importer::importTensor(onnx::TensorProto &tensor,
                                               Location loc) {
  Type elem = getElementTypeForOnnx(ctx, tensor.data_type());
  if (!elem)
    return emitError(loc) << "tensor '" << tensor.name()
                          << "' has unsupported data type "
                          << tensor.data_type();
  SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  auto type = RankedTensorType::get(shape, elem);
  int64_t count = type.getNumElements();
  size_t width = elem.isInteger(1) ? 1 : elem.getIntOrFloatBitWidth() / 8;
  std::string name = tensor.name().empty() ? "tensor" : tensor.name();

  auto fromBytes =
      [&](ArrayRef<char> bytes,
          AsmResourceBlob::DeleterFn deleter) -> FailureOr<ElementsAttr> {
    if (bytes.size() != size_t(count) * width)
      return emitError(loc) << "tensor '" << name << "' has " << bytes.size()
                            << " bytes of data, expected " << count * width;
    // Booleans and tiny tensors are copied into a dense attribute; everything
    // else stays where it is.
    if (elem.isInteger(1) || count <= 16) {
      if (elem.isInteger(1)) {
        SmallVector<bool> bits;
        for (char c : bytes)
          bits.push_back(c != 0);
        return ElementsAttr(DenseElementsAttr::get(type, bits));
      }
      return ElementsAttr(DenseElementsAttr::getFromRawBuffer(type, bytes));
    }
    size_t align =
        reinterpret_cast<uintptr_t>(bytes.data()) % width == 0 ? width : 1;
    return ElementsAttr(DenseResourceElementsAttr::get(
        type, name, AsmResourceBlob(bytes, align, std::move(deleter), false)));
  };

  if (tensor.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    uint64_t offset = 0;
    std::optional<uint64_t> length;
    for (const auto &kv : tensor.external_data()) {
      if (kv.key() == "location")
        location = kv.value();
      else if (kv.key() == "offset")
        offset = std::stoull(kv.value());
      else if (kv.key() == "length")
        length = std::stoull(kv.value());
    }
    SmallString<256> file(llvm::sys::path::parent_path(path));
    llvm::sys::path::append(file, location);
    std::string error;
    std::shared_ptr<void> keepAlive;
    auto bytes = externalFiles.slice(file, offset, length, error, keepAlive);
    if (failed(bytes))
      return emitError(loc) << "tensor '" << name << "': " << error;
    return fromBytes(*bytes, [keepAlive](void *, size_t, size_t) mutable {
      keepAlive.reset();
    });
  }
  if (tensor.has_raw_data()) {
    // Take the protobuf's string; the blob owns and frees it.
    std::string *owned = tensor.release_raw_data();
    return fromBytes(ArrayRef<char>(owned->data(), owned->size()),
                     [owned](void *, size_t, size_t) { delete owned; });
  }
  // Typed fields.
  auto check = [&](int64_t n) -> LogicalResult {
    if (n != count)
      return emitError(loc) << "tensor '" << name << "' has " << n
                            << " values, expected " << count;
    return success();
  };
  if (isa<FloatType>(elem) && !elem.isF16() && !elem.isBF16()) {
    if (elem.isF64()) {
      if (failed(check(tensor.double_data_size())))
        return failure();
      SmallVector<double> v(tensor.double_data().begin(),
                            tensor.double_data().end());
      return ElementsAttr(DenseElementsAttr::get(type, ArrayRef<double>(v)));
    }
    if (failed(check(tensor.float_data_size())))
      return failure();
    SmallVector<float> v(tensor.float_data().begin(),
                         tensor.float_data().end());
    return ElementsAttr(DenseElementsAttr::get(type, ArrayRef<float>(v)));
  }
  SmallVector<APInt> ints;
  unsigned bits = elem.isInteger(1) ? 1 : elem.getIntOrFloatBitWidth();
  if (elem.isInteger(64) && !elem.isUnsignedInteger()) {
    if (failed(check(tensor.int64_data_size())))
      return failure();
    for (int64_t v : tensor.int64_data())
      ints.push_back(APInt(64, v, true));
  } else if (elem.isUnsignedInteger(32) || elem.isUnsignedInteger(64)) {
    if (failed(check(tensor.uint64_data_size())))
      return failure();
    for (uint64_t v : tensor.uint64_data())
      ints.push_back(APInt(bits, v));
  } else {
    // int32_data holds int8/16/32, uint8/16, bool and the bits of fp16/bf16.
    if (failed(check(tensor.int32_data_size())))
      return failure();
    for (int32_t v : tensor.int32_data())
      ints.push_back(APInt(bits, uint64_t(int64_t(v)), /*isSigned=*/false,
                           /*implicitTrunc=*/true));
  }
  if (isa<FloatType>(elem)) {
    SmallVector<APFloat> floats;
    for (const APInt &v : ints)
      floats.push_back(APFloat(cast<FloatType>(elem).getFloatSemantics(), v));
    return ElementsAttr(DenseElementsAttr::get(type, floats));
  }
  return ElementsAttr(DenseElementsAttr::get(type, ints));
}

FailureOr<NamedAttribute> Importer::importAttribute(onnx::AttributeProto &attr,
                                                    Location loc) {
  StringAttr name = StringAttr::get(ctx, attr.name());
  switch (attr.type()) {
  case onnx::AttributeProto::INT:
    return NamedAttribute(name, builder.getI64IntegerAttr(attr.i()));
  case onnx::AttributeProto::FLOAT:
    return NamedAttribute(name, builder.getF32FloatAttr(attr.f()));
  case onnx::AttributeProto::STRING:
    return NamedAttribute(name, builder.getStringAttr(attr.s()));
  case onnx::AttributeProto::INTS:
    return NamedAttribute(name,
                          builder.getDenseI64ArrayAttr(SmallVector<int64_t>(
                              attr.ints().begin(), attr.ints().end())));
  case onnx::AttributeProto::FLOATS:
    return NamedAttribute(name,
                          builder.getDenseF32ArrayAttr(SmallVector<float>(
                              attr.floats().begin(), attr.floats().end())));
  case onnx::AttributeProto::TENSOR: {
    auto value = importTensor(*attr.mutable_t(), loc);
    if (failed(value))
      return failure();
    return NamedAttribute(name, *value);
  }
  default:
    return emitError(loc) << "attribute '" << attr.name()
                          << "' has an unsupported type (" << attr.type()
                          << ")";
  }
}

LogicalResult Importer::importNode(onnx::NodeProto &node, size_t index) {
  Location loc = nodeLoc(node, index);
  OperationState state(loc, onnxOpTable().lookup(node.op_type()));
  for (const std::string &input : node.input()) {
    if (input.empty()) {
      state.operands.push_back(none());
      continue;
    }
    Value v = values.lookup(input);
    if (!v)
      return emitError(loc) << node.op_type() << " node reads '" << input
                            << "', which no earlier node, input or "
                               "initializer defines";
    state.operands.push_back(v);
  }
  for (onnx::AttributeProto &attr : *node.mutable_attribute()) {
    auto named = importAttribute(attr, loc);
    if (failed(named))
      return failure();
    state.attributes.push_back(*named);
  }
  NormalizeContext nc{builder, loc, opset, none()};
  if (failed(normalizeOnnxNode(node.op_type(), nc, state)))
    return failure();
  // An attribute the op does not define would be silently ignored: it means
  // an older opset form (Slice's starts, a binary op's broadcast) or an
  // extension kuai does not implement.
  auto opName = state.name.getRegisteredInfo();
  for (const NamedAttribute &attr : state.attributes) {
    if (llvm::is_contained(opName->getAttributeNames(), attr.getName()))
      continue;
    return emitError(loc) << node.op_type() << " node has attribute '"
                          << attr.getName().getValue()
                          << "', which kuai does not support (opset " << opset
                          << ")";
  }
  unsigned numResults = getNumOnnxResults(node.op_type(), node.output_size());
  // Placeholders until inference; a constant's type is its value's.
  state.types.assign(numResults, UnrankedTensorType::get(builder.getF32Type()));
  if (auto value = dyn_cast_or_null<TypedAttr>(state.attributes.get("value"));
      value && node.op_type() == "Constant")
    state.types.assign(1, value.getType());
  Operation *op = builder.create(state);
  if (failed(updateResultTypes(op)))
    return failure();
  for (auto [i, name] : llvm::enumerate(node.output()))
    if (!name.empty() && i < op->getNumResults())
      values[name] = op->getResult(i);
  return success();
}

OwningOpRef<ModuleOp> Importer::run() {
  if (failed(parse()) || failed(checkSupported()))
    return {};
  auto &graph = *model.mutable_graph();
  Location fileLoc = FileLineColLoc::get(ctx, path, 0, 0);
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  builder.setInsertionPointToEnd(module->getBody());

  llvm::StringSet<> initializerNames;
  for (const auto &t : graph.initializer())
    initializerNames.insert(t.name());
  SmallVector<Type> argTypes, resultTypes;
  SmallVector<std::string> argNames;
  for (const auto &input : graph.input()) {
    if (initializerNames.count(input.name()))
      continue; // IR < 4 lists initializers as inputs too
    auto type = importValueType(input);
    if (failed(type))
      return {};
    if (options.emptyPast && isPastInputName(input.name())) {
      auto dims = getSymDims(*type);
      if (!dims || dims->size() != 4) {
        fileError() << "past input '" << input.name()
                    << "' must be [batch, kv_heads, past, head_dim]";
        return {};
      }
      (*dims)[2] = SymExpr::constant(0);
      type = makeTensorType(getElementTypeOrSelf(*type), *dims);
    }
    argTypes.push_back(*type);
    argNames.push_back(input.name());
  }
  auto func = func::FuncOp::create(builder, fileLoc, "main",
                                   builder.getFunctionType(argTypes, {}));
  Block *body = func.addEntryBlock();
  builder.setInsertionPointToStart(body);
  for (auto [i, name] : llvm::enumerate(argNames)) {
    func.setArgAttr(i, "kuai.name", builder.getStringAttr(name));
    values[name] = body->getArgument(i);
  }
  noneValue = NoneOp::create(builder, fileLoc, builder.getNoneType());
  for (onnx::TensorProto &t : *graph.mutable_initializer()) {
    Location loc = NameLoc::get(builder.getStringAttr(t.name()), fileLoc);
    // Errors name the tensor themselves; report them against the file.
    auto value = importTensor(t, fileLoc);
    if (failed(value))
      return {};
    values[t.name()] = ConstantOp::create(builder, loc, *value);
  }
  for (auto [i, node] : llvm::enumerate(*graph.mutable_node()))
    if (failed(importNode(node, i)))
      return {};
  SmallVector<Value> results;
  for (const auto &output : graph.output()) {
    Value v = values.lookup(output.name());
    if (!v) {
      fileError() << "graph output '" << output.name()
                  << "' is not produced by any node";
      return {};
    }
    results.push_back(v);
    resultTypes.push_back(v.getType());
  }
  func::ReturnOp::create(builder, fileLoc, results);
  func.setFunctionType(builder.getFunctionType(argTypes, resultTypes));
  for (auto [i, output] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "kuai.name", builder.getStringAttr(output.name()));
  (*module)->setAttr("kuai.opset", builder.getI64IntegerAttr(opset));
  if (noneValue.use_empty())
    noneValue.getDefiningOp()->erase();
  if (failed(verify(*module)))
    return {};
  return module;
}

} // namespace

OwningOpRef<ModuleOp> kuai::importOnnxFile(MLIRContext *context, StringRef path,
                                           const ImportOptions &options) {
  context->loadDialect<KuaiDialect, func::FuncDialect>();
  return Importer(context, path, options).run();
}

std::vector<std::string> kuai::getSupportedOnnxOps() {
  std::vector<std::string> ops;
  for (const auto &entry : onnxOpTable())
    ops.push_back(entry.getKey().str());
  std::sort(ops.begin(), ops.end());
  return ops;
}
