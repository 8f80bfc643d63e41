//===- ReferenceTest.cpp - Reference executor building blocks -------------===//

#include "kuai/Reference/Tensor.h"
#include "kuai/Reference/TensorIO.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/MLIRContext.h"
#include "llvm/Support/FileSystem.h"
#include <cmath>
#include <gtest/gtest.h>

using namespace kuai::ref;

namespace {

TEST(Half, RoundTripsRepresentableValues) {
  for (float v : {0.0f, 1.0f, -2.5f, 65504.0f, 6.103515625e-05f,
                  5.960464477539063e-08f /* smallest subnormal */}) {
    EXPECT_EQ(halfToFloat(floatToHalf(v)), v) << v;
  }
  EXPECT_TRUE(std::isinf(halfToFloat(floatToHalf(70000.0f))));
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(NAN))));
}

TEST(Half, RoundsToNearestEven) {
  // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: ties to even gives 1.
  EXPECT_EQ(halfToFloat(floatToHalf(1.0f + 0.00048828125f)), 1.0f);
  // 1 + 3 * 2^-11 is halfway between 1 + 2^-10 and 1 + 2^-9: even is the
  // latter.
  EXPECT_EQ(halfToFloat(floatToHalf(1.0f + 3 * 0.00048828125f)),
            1.0f + 0.001953125f);
}

TEST(BFloat16, RoundTrips) {
  EXPECT_EQ(bfloat16ToFloat(floatToBFloat16(1.5f)), 1.5f);
  EXPECT_EQ(bfloat16ToFloat(0x3f80), 1.0f);
}

TEST(Compare, RelativeL2AndMismatches) {
  mlir::MLIRContext ctx;
  mlir::Builder b(&ctx);
  Tensor a(b.getF32Type(), {4}), e(b.getF32Type(), {4});
  e.floats = {1, 2, 3, 4};
  a.floats = {1, 2, 3, 4.3f};
  Comparison c = compareTensors(a, e);
  EXPECT_NEAR(c.relL2, 0.3 / std::sqrt(30.0), 1e-6);
  EXPECT_NEAR(c.maxAbs, 0.3, 1e-6);
  a.floats[0] = NAN;
  EXPECT_EQ(compareTensors(a, e).mismatches, 1);
  Tensor wrongShape(b.getF32Type(), {2, 2});
  EXPECT_FALSE(compareTensors(wrongShape, e).shapeMatches);
}

TEST(Npy, WriteThenRead) {
  mlir::MLIRContext ctx;
  mlir::Builder b(&ctx);
  Tensor t(b.getIntegerType(64), {2, 3});
  t.ints = {1, -2, 3, 4, 5, 1LL << 40};
  llvm::SmallString<128> path;
  llvm::sys::fs::createTemporaryFile("kuai", "npy", path);
  ASSERT_FALSE(bool(writeNpy(t, path)));
  auto back = readNpy(&ctx, path);
  ASSERT_TRUE(bool(back));
  EXPECT_EQ(back->shape, t.shape);
  EXPECT_EQ(back->ints, t.ints);
  llvm::sys::fs::remove(path);
}

} // namespace
