//===- KuaiDialect.h - The kuai dialect -------------------------*- C++ -*-===//
#ifndef KUAI_DIALECT_KUAIDIALECT_H
#define KUAI_DIALECT_KUAIDIALECT_H

#include "kuai/Support/SymExpr.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

namespace kuai {
/// Infers the result types of a kuai op (see InferShapesOpInterface).
llvm::LogicalResult inferResultTypes(mlir::Operation *op,
                                     llvm::SmallVectorImpl<mlir::Type> &types);
/// Inference of the transformer-level ops; std::nullopt for other ops.
std::optional<llvm::LogicalResult>
inferTransformerResultTypes(mlir::Operation *op,
                            llvm::SmallVectorImpl<mlir::Type> &types);
/// Infers the result types of `op` and sets them.
llvm::LogicalResult updateResultTypes(mlir::Operation *op);
/// Verifies that the declared result types agree with inference.
llvm::LogicalResult verifyInferredTypes(mlir::Operation *op);
} // namespace kuai

#include "KuaiDialect.h.inc"
#define GET_ATTRDEF_CLASSES
#include "KuaiAttrs.h.inc"
#include "KuaiInterfaces.h.inc"
#define GET_OP_CLASSES
#include "KuaiOps.h.inc"

namespace kuai {

/// The dimensions of a ranked tensor type as symbolic expressions: constants
/// for static dims, the `#kuai.dims` encoding for dynamic ones, unknown
/// otherwise. std::nullopt for unranked or non-tensor types.
std::optional<llvm::SmallVector<SymExpr>> getSymDims(mlir::Type type);

/// A ranked tensor type with the given dims; dims that are not constants
/// become dynamic and are recorded in the `#kuai.dims` encoding when at least
/// one of them is known.
mlir::RankedTensorType makeTensorType(mlir::Type elementType,
                                      llvm::ArrayRef<SymExpr> dims);

/// The values of a small integer tensor whose contents are known at compile
/// time: a `kuai.constant` or a `kuai.sym_tensor`. std::nullopt otherwise.
std::optional<llvm::SmallVector<SymExpr>> getShapeValues(mlir::Value value);

/// Integer contents of a constant integer tensor.
std::optional<llvm::SmallVector<int64_t>> getConstantInts(mlir::Value value);

/// Maps an ONNX TensorProto data type code to an MLIR element type, or a null
/// type for codes kuai does not support.
mlir::Type getElementTypeForOnnx(mlir::MLIRContext *ctx, int64_t code);
/// The inverse; -1 when the type has no ONNX code.
int64_t getOnnxTypeCode(mlir::Type type);

} // namespace kuai

#endif
