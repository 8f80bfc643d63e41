// RUN: kuai-compile %s --emit=kernels | FileCheck %s
// RUN: kuai-compile %s --emit=kernels --no-fuse | FileCheck %s --check-prefix=NOFUSE
// Pass: lib/Codegen/FuseKernels.cpp

// Tests that an add, the transpose that reads it and the tanh after it
// become one generated kernel whose loads read the inputs transposed (the
// bias broadcast), and that --no-fuse keeps one launch per op.
// CHECK: // kernel program: 1 launches
// CHECK: generated.kuai_ew0 <<<24/256, 1/1, 1/1 | 256x1x1>>> (b{{[0-9]+}} b0 b{{[0-9]+}})  // add+transpose+tanh
// NOFUSE: // kernel program: 3 launches
// NOFUSE: // add
// NOFUSE: // transpose
// NOFUSE: // tanh
func.func @main(%x: tensor<2x3x4xf32> {kuai.name = "x"}) -> (tensor<2x4x3xf32> {kuai.name = "y"}) {
  %b = kuai.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %s = kuai.add %x, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %t = kuai.transpose %s {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  %y = kuai.tanh %t : (tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  return %y : tensor<2x4x3xf32>
}
