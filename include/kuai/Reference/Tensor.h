//===- Tensor.h - Host tensors of the reference executor -------*- C++ -*-===//
//
// The reference executor computes in fp32: every floating-point tensor is
// held as float (fp16/bf16/f64 values are widened or narrowed on the way in
// and out), every integer or boolean tensor as int64. The logical element
// type is kept so casts and outputs have ONNX semantics.
//
//===----------------------------------------------------------------------===//
#ifndef KUAI_REFERENCE_TENSOR_H
#define KUAI_REFERENCE_TENSOR_H

#include "mlir/IR/BuiltinAttributeInterfaces.h"
#include "mlir/IR/Types.h"
#include <cstdint>
#include <string>
#include <vector>

namespace kuai::ref {

struct Tensor {
  mlir::Type elementType;
  std::vector<int64_t> shape;
  std::vector<float> floats; // when elementType is a float type
  std::vector<int64_t> ints; // integers and booleans

  Tensor() = default;
  Tensor(mlir::Type elementType, std::vector<int64_t> shape);

  bool isFloat() const;
  int64_t numel() const;
  int64_t rank() const { return shape.size(); }
  /// Element `i` as double, whatever the storage.
  double at(int64_t i) const { return isFloat() ? floats[i] : double(ints[i]); }
  std::string shapeString() const;
};

int64_t product(const std::vector<int64_t> &shape);

/// Decodes a constant attribute (dense or dense resource).
Tensor tensorFromAttr(mlir::ElementsAttr attr);
/// Decodes little-endian bytes of `elementType` into a tensor.
Tensor tensorFromBytes(mlir::Type elementType, std::vector<int64_t> shape,
                       const char *data, size_t size);

/// The elements as little-endian bytes of type `as` (a float or integer type
/// of the same kind as the tensor's storage).
std::vector<char> encodeElements(const Tensor &tensor, mlir::Type as);

/// Encodes a tensor as a constant of its element type: a dense attribute when
/// small, a dense resource otherwise.
mlir::ElementsAttr tensorToAttr(const Tensor &tensor);

/// Rounds `value` to what a tensor of `elementType` can hold: fp16/bf16
/// rounding, integer wrap-around for narrow integer types, 0/1 for bool.
float roundToFloatType(mlir::Type elementType, float value);
int64_t wrapToIntType(mlir::Type elementType, int64_t value);

uint16_t floatToHalf(float value);
float halfToFloat(uint16_t bits);
uint16_t floatToBFloat16(float value);
float bfloat16ToFloat(uint16_t bits);

} // namespace kuai::ref

#endif
