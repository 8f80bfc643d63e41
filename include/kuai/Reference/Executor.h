//===- Executor.h - Reference executor of kuai graph IR ---------*- C++ -*-===//
//
// A CPU interpreter of the graph IR in fp32, the oracle every pass and every
// GPU path is checked against. Symbols of the function's argument types
// (`batch`, `seq`) are bound from the actual inputs; every result is checked
// against its static or symbolic type, so a wrong shape fold fails loudly.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_REFERENCE_EXECUTOR_H
#define KUAI_REFERENCE_EXECUTOR_H

#include "kuai/Reference/Tensor.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/Support/Error.h"
#include <memory>

namespace kuai::ref {

/// Evaluates one op on host tensors (a null input stands for `none`).
/// Shared by the executor and by constant folding.
llvm::Error evaluateOp(mlir::Operation *op,
                       llvm::ArrayRef<const Tensor *> inputs,
                       std::vector<Tensor> &outputs,
                       const llvm::StringMap<int64_t> &symbols);

/// A human-readable name of an op for messages: `'Reshape' node "foo"`.
std::string describeOp(mlir::Operation *op);

class Executor {
public:
  explicit Executor(mlir::func::FuncOp func);

  unsigned getNumInputs() const;
  std::string getInputName(unsigned i) const;
  mlir::Type getInputType(unsigned i) const;
  unsigned getNumOutputs() const;
  std::string getOutputName(unsigned i) const;

  /// Runs the function. Fails with a message naming the input or op when an
  /// input has the wrong rank, dtype or size, or an op cannot be evaluated.
  llvm::Expected<std::vector<Tensor>> run(const std::vector<Tensor> &inputs);

private:
  mutable mlir::func::FuncOp func;
  /// Decoded constants, kept across runs.
  llvm::DenseMap<mlir::Value, std::shared_ptr<const Tensor>> constants;
  llvm::Error bindInputs(const std::vector<Tensor> &inputs,
                         llvm::StringMap<int64_t> &symbols);
};

} // namespace kuai::ref

#endif
