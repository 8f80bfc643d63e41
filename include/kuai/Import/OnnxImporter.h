//===- OnnxImporter.h - ONNX to kuai graph IR -------------------*- C++ -*-===//
#ifndef KUAI_IMPORT_ONNXIMPORTER_H
#define KUAI_IMPORT_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"
#include "llvm/ADT/StringRef.h"
#include <string>
#include <vector>

namespace kuai {

/// How a model is imported.
struct ImportOptions {
  /// Past/present exports (inputs `past_key_values.N.key` / `.value`
  /// [batch, kv_heads, past, head_dim]): import them with a past of length 0,
  /// the form in which the model recomputes nothing and kuai-kv-cache, after
  /// kuai-drop-empty-past, caches keys and values itself.
  bool emptyPast = false;
};

/// Imports an ONNX model file into a module holding `func.func @main` in the
/// kuai graph dialect. Initializers become dense resources that reference the
/// protobuf's bytes or a memory map of the external data files, so weights
/// are held once. Errors are reported through the context's diagnostic
/// handler and name the file, node and op type; the result is then null.
mlir::OwningOpRef<mlir::ModuleOp>
importOnnxFile(mlir::MLIRContext *context, llvm::StringRef path,
               const ImportOptions &options = {});

/// The ONNX op types (default domain) the importer claims.
std::vector<std::string> getSupportedOnnxOps();

} // namespace kuai

#endif
