//===- RaiseUtils.h - Helpers shared by the raising passes ------*- C++ -*-===//
#ifndef KUAI_PASSES_RAISEUTILS_H
#define KUAI_PASSES_RAISEUTILS_H

#include "kuai/Dialect/KuaiDialect.h"
#include "kuai/Reference/Tensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/SetVector.h"

namespace kuai {

/// The value of a one-element constant (any rank), as double.
std::optional<double> getScalarConstant(mlir::Value value);

/// Whether `value` is a constant tensor (of any size).
bool isConstantTensor(mlir::Value value);

/// The axis an integer-axes operand names when it names exactly one axis,
/// normalised against `rank`.
std::optional<int64_t> getSingleAxis(mlir::Value axes, int64_t rank);

/// Rank of a ranked tensor value, or -1.
int64_t getRank(mlir::Value value);

/// If `op` is one of a commutative binary op's operands forms, returns the
/// operand that is not `known`; null otherwise.
mlir::Value otherOperand(mlir::Operation *op, mlir::Value known);

/// The ops computing `root` from values outside `stop(value) == true`,
/// in topological order (a backward slice within one block).
llvm::SetVector<mlir::Operation *>
backwardSlice(mlir::Value root, llvm::function_ref<bool(mlir::Value)> stop);

/// Values given to evaluateSlice for a slice without non-constant inputs.
using NoInputs = llvm::DenseMap<mlir::Value, ref::Tensor>;

/// Evaluates `slice` (topologically ordered) with the reference kernels.
/// `given` supplies values for the slice's non-constant inputs; `symbols`
/// binds symbolic dims. Returns the value of `root`, or std::nullopt when an
/// op fails.
std::optional<ref::Tensor>
evaluateSlice(llvm::ArrayRef<mlir::Operation *> slice, mlir::Value root,
              const llvm::DenseMap<mlir::Value, ref::Tensor> &given,
              const llvm::StringMap<int64_t> &symbols);

/// Infers and sets the result types of a newly built op without reporting
/// diagnostics: a candidate that does not type-check is simply not raised.
llvm::LogicalResult inferTypesQuietly(mlir::Operation *op);

/// Same element type and rank, and no two known dims that differ: a raised
/// op may know more about a shape than the subgraph it replaces (a float
/// Range's length, say).
bool typesCompatible(mlir::Type a, mlir::Type b);

/// Erases pure kuai ops without uses, repeatedly.
void eraseDeadKuaiOps(mlir::Operation *root);

/// Sets the function's result types to its return operands' types, which a
/// raised op (or a folded shape) may know better than the import did.
void syncFunctionResultTypes(mlir::func::FuncOp func);

} // namespace kuai

#endif
