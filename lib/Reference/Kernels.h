//===- Kernels.h - Reference kernels, by category ---------------*- C++ -*-===//
#ifndef KUAI_LIB_REFERENCE_KERNELS_H
#define KUAI_LIB_REFERENCE_KERNELS_H

#include "kuai/Reference/Tensor.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"

namespace kuai::ref {

/// What a kernel sees: its op, inputs (null for `none`) and outputs to fill.
struct KernelContext {
  mlir::Operation *op;
  llvm::ArrayRef<const Tensor *> inputs;
  std::vector<Tensor> &outputs;
  const llvm::StringMap<int64_t> &symbols;
  std::string error;

  const Tensor &in(unsigned i) const { return *inputs[i]; }
  bool has(unsigned i) const { return i < inputs.size() && inputs[i]; }
  mlir::Type resultElem(unsigned i = 0) const;
  /// Records an error; returns false so kernels can `return ctx.fail(...)`.
  bool fail(const llvm::Twine &message) {
    error = message.str();
    return false;
  }
  Tensor &emit(std::vector<int64_t> shape, unsigned result = 0);
};

/// Each returns std::nullopt when the op is not in its category, otherwise
/// whether it succeeded (ctx.error says why not).
std::optional<bool> evalElementwise(KernelContext &ctx);
std::optional<bool> evalMovement(KernelContext &ctx);
std::optional<bool> evalMath(KernelContext &ctx);
std::optional<bool> evalTransformer(KernelContext &ctx);

/// Numpy broadcast of shapes; false if incompatible.
bool broadcastShapes(llvm::ArrayRef<std::vector<int64_t>> shapes,
                     std::vector<int64_t> &out);
/// Element strides of `shape` read as `out` (0 along broadcast dims).
std::vector<int64_t> broadcastStrides(const std::vector<int64_t> &shape,
                                      const std::vector<int64_t> &out);
std::vector<int64_t> contiguousStrides(const std::vector<int64_t> &shape);

/// Calls f(outIndex, offsets) for every element of `out`, where offsets[k]
/// is the element offset into operand k with the given strides.
template <typename F>
void forEachBroadcast(const std::vector<int64_t> &out,
                      const std::vector<std::vector<int64_t>> &strides, F f) {
  int64_t n = product(out);
  size_t rank = out.size(), k = strides.size();
  std::vector<int64_t> idx(rank, 0), off(k, 0);
  for (int64_t i = 0; i < n; ++i) {
    f(i, off.data());
    for (int64_t d = int64_t(rank) - 1; d >= 0; --d) {
      ++idx[d];
      for (size_t j = 0; j < k; ++j)
        off[j] += strides[j][d];
      if (idx[d] < out[d])
        break;
      for (size_t j = 0; j < k; ++j)
        off[j] -= strides[j][d] * out[d];
      idx[d] = 0;
    }
  }
}

/// Normalises a possibly negative axis against `rank`.
inline int64_t normAxis(int64_t axis, int64_t rank) {
  return axis < 0 ? axis + rank : axis;
}

/// C[m, n] = A[m, k] · B[k, n], row-major fp32, multi-threaded.
void gemmBlock(const float *a, const float *b, float *c, int64_t m, int64_t k,
               int64_t n);

/// Reads an integer input as a vector (indices, axes, shapes).
std::vector<int64_t> toInts(const Tensor &t);

} // namespace kuai::ref

#endif
