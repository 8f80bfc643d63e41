//===- ModelLoader.h - Models and tensors from files ------------*- C++ -*-===//
#ifndef KUAI_IMPORT_MODELLOADER_H
#define KUAI_IMPORT_MODELLOADER_H

#include "kuai/Import/OnnxImporter.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/Support/Error.h"

namespace kuai {

/// Registers the dialects a kuai module can contain.
void registerKuaiDialects(mlir::DialectRegistry &registry);

/// Prints diagnostics as `file: node "name": error: message`, naming the ONNX
/// node an op came from.
void installDiagnosticPrinter(mlir::MLIRContext *context);

/// Loads a model: `.onnx` through the importer (with `options`), anything
/// else parsed as MLIR.
mlir::OwningOpRef<mlir::ModuleOp> loadModel(mlir::MLIRContext *context,
                                            llvm::StringRef path,
                                            const ImportOptions &options = {});

/// Reads an ONNX TensorProto file (`input_0.pb`). Returns the tensor as a
/// constant attribute and its name.
llvm::Expected<mlir::ElementsAttr>
readTensorProtoFile(mlir::MLIRContext *context, llvm::StringRef path,
                    std::string *name);

} // namespace kuai

#endif
