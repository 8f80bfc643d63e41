//===- TensorIO.cpp - .npy files, random tensors, comparisons -------------===//

#include "kuai/Reference/TensorIO.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"
#include <cmath>
#include <random>

using namespace mlir;
using namespace kuai::ref;

static std::string npyDescr(Type t) {
  if (t.isF32())
    return "<f4";
  if (t.isF16())
    return "<f2";
  if (t.isF64())
    return "<f8";
  if (t.isBF16())
    return "<f4"; // numpy has no bfloat16; widened
  if (t.isInteger(1))
    return "|b1";
  auto i = cast<IntegerType>(t);
  std::string kind = i.isUnsigned() ? "u" : "i";
  unsigned bytes = i.getWidth() / 8;
  return (bytes == 1 ? "|" : "<") + kind + std::to_string(bytes);
}

llvm::Expected<Tensor> kuai::ref::readNpy(MLIRContext *ctx, StringRef path) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer)
    return llvm::createStringError(
        path + ": cannot read: " + buffer.getError().message());
  StringRef data = (*buffer)->getBuffer();
  if (!data.starts_with("\x93NUMPY") || data.size() < 10)
    return llvm::createStringError(path + ": not a .npy file");
  uint8_t major = data[6];
  size_t headerLen = major == 1 ? uint8_t(data[8]) | (uint8_t(data[9]) << 8)
                                : uint8_t(data[8]) | (uint8_t(data[9]) << 8) |
                                      (uint8_t(data[10]) << 16) |
                                      (uint8_t(data[11]) << 24);
  size_t start = major == 1 ? 10 : 12;
  if (start + headerLen > data.size())
    return llvm::createStringError(path + ": truncated .npy header");
  StringRef header = data.substr(start, headerLen);
  auto field = [&](StringRef key) {
    size_t at = header.find(key);
    if (at == StringRef::npos)
      return StringRef();
    return header.substr(at + key.size()).ltrim(" :'");
  };
  StringRef descr = field("'descr'");
  descr = descr.substr(0, descr.find('\''));
  if (field("'fortran_order'").starts_with("True"))
    return llvm::createStringError(path +
                                   ": Fortran-order arrays are not supported");
  StringRef shapeText = field("'shape'");
  shapeText = shapeText.substr(shapeText.find('(') + 1);
  shapeText = shapeText.substr(0, shapeText.find(')'));
  std::vector<int64_t> shape;
  SmallVector<StringRef> parts;
  shapeText.split(parts, ',', -1, false);
  for (StringRef p : parts) {
    int64_t v;
    if (p.trim().empty())
      continue;
    if (p.trim().getAsInteger(10, v))
      return llvm::createStringError(path + ": bad shape in .npy header");
    shape.push_back(v);
  }
  Builder b(ctx);
  Type elem = llvm::StringSwitch<Type>(descr)
                  .Case("<f4", b.getF32Type())
                  .Case("<f2", b.getF16Type())
                  .Case("<f8", b.getF64Type())
                  .Case("|b1", b.getI1Type())
                  .Case("|i1", b.getIntegerType(8))
                  .Case("<i2", b.getIntegerType(16))
                  .Case("<i4", b.getIntegerType(32))
                  .Case("<i8", b.getIntegerType(64))
                  .Case("|u1", IntegerType::get(ctx, 8, IntegerType::Unsigned))
                  .Case("<u2", IntegerType::get(ctx, 16, IntegerType::Unsigned))
                  .Case("<u4", IntegerType::get(ctx, 32, IntegerType::Unsigned))
                  .Case("<u8", IntegerType::get(ctx, 64, IntegerType::Unsigned))
                  .Default(Type());
  if (!elem)
    return llvm::createStringError(path + ": unsupported dtype '" + descr +
                                   "'");
  size_t width = elem.isInteger(1) ? 1 : elem.getIntOrFloatBitWidth() / 8;
  size_t need = product(shape) * width, offset = start + headerLen;
  if (data.size() - offset < need)
    return llvm::createStringError(
        path + ": holds " + std::to_string(data.size() - offset) +
        " data bytes, the header needs " + std::to_string(need));
  return tensorFromBytes(elem, shape, data.data() + offset, need);
}

llvm::Error kuai::ref::writeNpy(const Tensor &t, StringRef path) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (ec)
    return llvm::createStringError(path + ": cannot write: " + ec.message());
  std::string shape = "(";
  for (int64_t d : t.shape)
    shape += std::to_string(d) + ",";
  if (t.shape.size() > 1)
    shape.pop_back();
  shape += ")";
  Type e = t.elementType.isBF16()
               ? Builder(t.elementType.getContext()).getF32Type()
               : t.elementType;
  std::string header = "{'descr': '" + npyDescr(e) +
                       "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + header.size() + 1) % 64)
    header += ' ';
  header += '\n';
  os << "\x93NUMPY" << char(1) << char(0) << char(header.size() & 0xff)
     << char(header.size() >> 8) << header;
  std::vector<char> bytes = encodeElements(t, e);
  os.write(bytes.data(), bytes.size());
  return llvm::Error::success();
}

Tensor kuai::ref::randomTensor(Type elementType, std::vector<int64_t> shape,
                               uint64_t seed, int64_t intMax) {
  Tensor t(elementType, std::move(shape));
  std::mt19937_64 rng(seed);
  if (t.isFloat()) {
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    for (float &v : t.floats)
      v = roundToFloatType(elementType, dist(rng));
  } else {
    int64_t hi = elementType.isInteger(1) ? 2 : std::max<int64_t>(intMax, 1);
    std::uniform_int_distribution<int64_t> dist(0, hi - 1);
    for (int64_t &v : t.ints)
      v = dist(rng);
  }
  return t;
}

Comparison kuai::ref::compareTensors(const Tensor &a, const Tensor &e) {
  Comparison c;
  if (a.shape != e.shape) {
    c.shapeMatches = false;
    return c;
  }
  bool exact = !a.isFloat() || !e.isFloat();
  double diff2 = 0, ref2 = 0;
  for (int64_t i = 0, n = e.numel(); i < n; ++i) {
    double x = a.at(i), y = e.at(i);
    if (std::isnan(y) || std::isnan(x) || std::isinf(y) || std::isinf(x)) {
      bool same = (std::isnan(x) && std::isnan(y)) || x == y;
      c.mismatches += !same;
      continue;
    }
    if (exact && x != y)
      ++c.mismatches;
    diff2 += (x - y) * (x - y);
    ref2 += y * y;
    c.maxAbs = std::max(c.maxAbs, std::fabs(x - y));
  }
  c.relL2 = ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2);
  return c;
}
