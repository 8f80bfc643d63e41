//===- ImportHelpers.h - Per-op import normalisation ------------*- C++ -*-===//
#ifndef KUAI_LIB_IMPORT_IMPORTHELPERS_H
#define KUAI_LIB_IMPORT_IMPORTHELPERS_H

#include "mlir/IR/Builders.h"
#include "mlir/IR/OperationSupport.h"
#include <onnx/onnx_pb.h>

namespace kuai {

struct NormalizeContext {
  mlir::OpBuilder &builder;
  mlir::Location loc;
  int64_t opset;
  mlir::Value none;
};

/// Rewrites the operands and attributes of an ONNX node into the form of the
/// kuai op: older-opset attributes become inputs, absent trailing optional
/// inputs become `none`, Constant's value_* forms become `value`.
llvm::LogicalResult normalizeOnnxNode(llvm::StringRef opType,
                                      NormalizeContext &ctx,
                                      mlir::OperationState &state);

/// The number of results the kuai op of `opType` has for a node with
/// `nodeOutputs` outputs (optional outputs are always materialised).
unsigned getNumOnnxResults(llvm::StringRef opType, unsigned nodeOutputs);

} // namespace kuai

#endif
