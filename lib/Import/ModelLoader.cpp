//===- ModelLoader.cpp - Models and tensors from files --------------------===//

#include "kuai/Import/ModelLoader.h"
#include "kuai/Dialect/KuaiDialect.h"
#include "kuai/Import/OnnxImporter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Parser/Parser.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <onnx/onnx_pb.h>

using namespace mlir;

void kuai::registerKuaiDialects(DialectRegistry &registry) {
  registry.insert<KuaiDialect, func::FuncDialect>();
}

static std::string fileOf(Location loc) {
  if (auto f = dyn_cast<FileLineColLoc>(loc))
    return f.getLine()
               ? (f.getFilename().str() + ":" + std::to_string(f.getLine()) +
                  ":" + std::to_string(f.getColumn()))
               : f.getFilename().str();
  if (auto n = dyn_cast<NameLoc>(loc))
    return fileOf(n.getChildLoc());
  if (auto c = dyn_cast<CallSiteLoc>(loc))
    return fileOf(c.getCallee());
  if (auto f = dyn_cast<FusedLoc>(loc))
    return f.getLocations().empty() ? "" : fileOf(f.getLocations().front());
  return "";
}

void kuai::installDiagnosticPrinter(MLIRContext *context) {
  context->getDiagEngine().registerHandler([](Diagnostic &diag) {
    auto print = [](Diagnostic &d, StringRef severity) {
      std::string where = fileOf(d.getLocation());
      if (auto n = dyn_cast<NameLoc>(d.getLocation()))
        where += (where.empty() ? "" : ": ") + std::string("node \"") +
                 n.getName().str() + "\"";
      llvm::errs() << (where.empty() ? "kuai" : where) << ": " << severity
                   << ": " << d.str() << "\n";
    };
    StringRef severity =
        diag.getSeverity() == DiagnosticSeverity::Error     ? "error"
        : diag.getSeverity() == DiagnosticSeverity::Warning ? "warning"
                                                            : "note";
    print(diag, severity);
    for (Diagnostic &note : diag.getNotes())
      print(note, "note");
    return success();
  });
}

OwningOpRef<ModuleOp> kuai::loadModel(MLIRContext *context, StringRef path,
                                      const ImportOptions &options) {
  if (path.ends_with(".onnx"))
    return importOnnxFile(context, path, options);
  context->loadDialect<KuaiDialect, func::FuncDialect>();
  return parseSourceFile<ModuleOp>(path, context);
}

llvm::Expected<ElementsAttr> kuai::readTensorProtoFile(MLIRContext *context,
                                                       StringRef path,
                                                       std::string *name) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError(
        path + ": cannot read: " + buffer.getError().message());
  onnx::TensorProto proto;
  if (!proto.ParseFromArray((*buffer)->getBufferStart(),
                            (*buffer)->getBufferSize()))
    return llvm::createStringError(path + ": not an ONNX TensorProto");
  if (name)
    *name = proto.name();
  Type elem = getElementTypeForOnnx(context, proto.data_type());
  if (!elem)
    return llvm::createStringError(path + ": unsupported data type " +
                                   std::to_string(proto.data_type()));
  // Gather the values as little-endian bytes of the element type, whichever
  // field of the proto holds them.
  SmallVector<int64_t> shape(proto.dims().begin(), proto.dims().end());
  auto type = RankedTensorType::get(shape, elem);
  int64_t count = type.getNumElements();
  std::string raw;
  if (proto.has_raw_data()) {
    raw = proto.raw_data();
  } else {
    auto append = [&](auto v) {
      raw.append(reinterpret_cast<const char *>(&v), sizeof(v));
    };
    unsigned width = elem.isInteger(1) ? 1 : elem.getIntOrFloatBitWidth() / 8;
    if (elem.isF32())
      for (float v : proto.float_data())
        append(v);
    else if (elem.isF64())
      for (double v : proto.double_data())
        append(v);
    else if (elem.isInteger(64) && !elem.isUnsignedInteger())
      for (int64_t v : proto.int64_data())
        append(v);
    else if (elem.isUnsignedInteger(32) || elem.isUnsignedInteger(64))
      for (uint64_t v : proto.uint64_data())
        raw.append(reinterpret_cast<const char *>(&v), width);
    else
      for (int32_t v : proto.int32_data())
        raw.append(reinterpret_cast<const char *>(&v), width);
  }
  size_t width = elem.isInteger(1) ? 1 : elem.getIntOrFloatBitWidth() / 8;
  if (raw.size() != size_t(count) * width)
    return llvm::createStringError(
        path + ": holds " + std::to_string(raw.size()) + " bytes, expected " +
        std::to_string(count * width));
  if (elem.isInteger(1)) {
    SmallVector<bool> bits;
    for (char c : raw)
      bits.push_back(c != 0);
    return ElementsAttr(DenseElementsAttr::get(type, bits));
  }
  return ElementsAttr(DenseElementsAttr::getFromRawBuffer(
      type, ArrayRef<char>(raw.data(), raw.size())));
}
