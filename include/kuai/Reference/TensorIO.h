//===- TensorIO.h - .npy files and random tensors ---------------*- C++ -*-===//
#ifndef KUAI_REFERENCE_TENSORIO_H
#define KUAI_REFERENCE_TENSORIO_H

#include "kuai/Reference/Tensor.h"
#include "llvm/Support/Error.h"

namespace mlir {
class MLIRContext;
}

namespace kuai::ref {

/// Reads a little-endian, C-order `.npy` file (f2, f4, f8, b1, i1/2/4/8,
/// u1/2/4/8).
llvm::Expected<Tensor> readNpy(mlir::MLIRContext *context,
                               llvm::StringRef path);
/// Writes a tensor as `.npy` with its logical element type.
llvm::Error writeNpy(const Tensor &tensor, llvm::StringRef path);

/// Uniform random values: floats in [-1, 1), integers in [0, intMax).
Tensor randomTensor(mlir::Type elementType, std::vector<int64_t> shape,
                    uint64_t seed, int64_t intMax);

/// Relative L2 error, max abs error and the number of NaN/Inf or
/// integer mismatches between an output and its reference.
struct Comparison {
  double relL2 = 0, maxAbs = 0;
  int64_t mismatches = 0;
  bool shapeMatches = true;
};
Comparison compareTensors(const Tensor &actual, const Tensor &expected);

} // namespace kuai::ref

#endif
