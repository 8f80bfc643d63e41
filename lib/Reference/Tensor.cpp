//===- Tensor.cpp - Host tensors of the reference executor ----------------===//

#include "kuai/Reference/Tensor.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/STLExtras.h"
#include <cmath>
#include <cstring>

using namespace mlir;
using namespace kuai::ref;

int64_t kuai::ref::product(const std::vector<int64_t> &shape) {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

Tensor::Tensor(Type elementType, std::vector<int64_t> shape)
    : elementType(elementType), shape(std::move(shape)) {
  if (isFloat())
    floats.assign(product(this->shape), 0.0f);
  else
    ints.assign(product(this->shape), 0);
}

bool Tensor::isFloat() const { return isa<FloatType>(elementType); }
int64_t Tensor::numel() const { return product(shape); }

std::string Tensor::shapeString() const {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

float kuai::ref::halfToFloat(uint16_t h) {
  uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else { // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(mant & 0x400)) {
        mant <<= 1;
        --exp;
      }
      bits = sign | (exp << 23) | ((mant & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t kuai::ref::floatToHalf(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  uint16_t sign = (x >> 16) & 0x8000;
  uint32_t absx = x & 0x7fffffff;
  if (absx >= 0x7f800000) // inf or nan
    return sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0);
  if (absx >= 0x477ff000) // rounds to >= 65520: overflow to inf
    return sign | 0x7c00;
  if (absx < 0x38800000) { // subnormal or zero in half
    float a;
    std::memcpy(&a, &absx, 4);
    // Scale so the half subnormal step (2^-24) becomes 1, round to even.
    return sign | uint16_t(std::nearbyint(a * 16777216.0f));
  }
  uint32_t mant = absx & 0x7fffff;
  uint32_t exp = (absx >> 23) - 127 + 15;
  uint32_t half = (exp << 10) | (mant >> 13);
  uint32_t rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest == 0x1000 && (half & 1)))
    ++half;
  return sign | uint16_t(half);
}

uint16_t kuai::ref::floatToBFloat16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffff) > 0x7f800000)
    return uint16_t((x >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((x >> 16) & 1);
  return uint16_t((x + rounding) >> 16);
}

float kuai::ref::bfloat16ToFloat(uint16_t b) {
  uint32_t x = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &x, 4);
  return f;
}

float kuai::ref::roundToFloatType(Type t, float v) {
  if (t.isF16())
    return halfToFloat(floatToHalf(v));
  if (t.isBF16())
    return bfloat16ToFloat(floatToBFloat16(v));
  return v;
}

int64_t kuai::ref::wrapToIntType(Type t, int64_t v) {
  auto it = cast<IntegerType>(t);
  switch (it.getWidth()) {
  case 1:
    return v != 0;
  case 8:
    return it.isUnsigned() ? int64_t(uint8_t(v)) : int64_t(int8_t(v));
  case 16:
    return it.isUnsigned() ? int64_t(uint16_t(v)) : int64_t(int16_t(v));
  case 32:
    return it.isUnsigned() ? int64_t(uint32_t(v)) : int64_t(int32_t(v));
  default:
    return v;
  }
}

Tensor kuai::ref::tensorFromBytes(Type t, std::vector<int64_t> shape,
                                  const char *data, size_t size) {
  Tensor out(t, std::move(shape));
  int64_t n = out.numel();
  auto load = [&](auto tag, int64_t i) {
    decltype(tag) v;
    std::memcpy(&v, data + i * sizeof(v), sizeof(v));
    return v;
  };
  for (int64_t i = 0; i < n; ++i) {
    if (t.isF32())
      out.floats[i] = load(float(), i);
    else if (t.isF16())
      out.floats[i] = halfToFloat(load(uint16_t(), i));
    else if (t.isBF16())
      out.floats[i] = bfloat16ToFloat(load(uint16_t(), i));
    else if (t.isF64())
      out.floats[i] = float(load(double(), i));
    else if (t.isInteger(1))
      out.ints[i] = load(uint8_t(), i) != 0;
    else {
      auto it = cast<IntegerType>(t);
      bool u = it.isUnsigned();
      switch (it.getWidth()) {
      case 8:
        out.ints[i] = u ? int64_t(load(uint8_t(), i)) : load(int8_t(), i);
        break;
      case 16:
        out.ints[i] = u ? int64_t(load(uint16_t(), i)) : load(int16_t(), i);
        break;
      case 32:
        out.ints[i] = u ? int64_t(load(uint32_t(), i)) : load(int32_t(), i);
        break;
      default:
        out.ints[i] = load(int64_t(), i);
        break;
      }
    }
  }
  return out;
}

Tensor kuai::ref::tensorFromAttr(ElementsAttr attr) {
  auto type = cast<ShapedType>(attr.getType());
  std::vector<int64_t> shape(type.getShape().begin(), type.getShape().end());
  Type elem = type.getElementType();
  if (auto resource = dyn_cast<DenseResourceElementsAttr>(attr)) {
    ArrayRef<char> bytes = resource.getRawHandle().getBlob()->getData();
    return tensorFromBytes(elem, shape, bytes.data(), bytes.size());
  }
  auto dense = cast<DenseElementsAttr>(attr);
  Tensor out(elem, shape);
  if (elem.isInteger(1)) {
    for (auto [i, v] : llvm::enumerate(dense.getValues<bool>()))
      out.ints[i] = v;
    return out;
  }
  if (!dense.isSplat()) {
    ArrayRef<char> raw = dense.getRawData();
    return tensorFromBytes(elem, shape, raw.data(), raw.size());
  }
  Tensor one = tensorFromBytes(elem, {}, dense.getRawData().data(),
                               dense.getRawData().size());
  if (out.isFloat())
    std::fill(out.floats.begin(), out.floats.end(), one.floats[0]);
  else
    std::fill(out.ints.begin(), out.ints.end(), one.ints[0]);
  return out;
}

std::vector<char> kuai::ref::encodeElements(const Tensor &t, Type as) {
  size_t width = as.isInteger(1) ? 1 : as.getIntOrFloatBitWidth() / 8;
  std::vector<char> bytes(t.numel() * width);
  for (int64_t i = 0, n = t.numel(); i < n; ++i) {
    char *p = bytes.data() + i * width;
    auto store = [&](auto v) { std::memcpy(p, &v, sizeof(v)); };
    if (as.isF32())
      store(float(t.at(i)));
    else if (as.isF16())
      store(floatToHalf(float(t.at(i))));
    else if (as.isBF16())
      store(floatToBFloat16(float(t.at(i))));
    else if (as.isF64())
      store(t.at(i));
    else if (width == 1)
      store(int8_t(t.ints[i]));
    else if (width == 2)
      store(int16_t(t.ints[i]));
    else if (width == 4)
      store(int32_t(t.ints[i]));
    else
      store(int64_t(t.ints[i]));
  }
  return bytes;
}

ElementsAttr kuai::ref::tensorToAttr(const Tensor &t) {
  auto type = RankedTensorType::get(t.shape, t.elementType);
  Type e = t.elementType;
  if (e.isInteger(1)) {
    SmallVector<bool> bits(t.ints.begin(), t.ints.end());
    return DenseElementsAttr::get(type, bits);
  }
  size_t width = e.getIntOrFloatBitWidth() / 8;
  std::vector<char> bytes = encodeElements(t, e);
  if (t.numel() <= 64)
    return DenseElementsAttr::getFromRawBuffer(type, bytes);
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(bytes), width);
  return DenseResourceElementsAttr::get(type, "folded", std::move(blob));
}
