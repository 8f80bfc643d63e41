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

// RUN: kuai-compile %S/Inputs/qkv-split.mlir --emit=kernels | FileCheck %s --check-prefix=SLICE
// A split of one q/k/v projection into a transposed attention: the three
// slice copies and transposes fold into the attention, which reads the
// projection's output in place (offset views, row stride 288).
// SLICE: // kernel program: 3 launches
// SLICE: b[[Q:[0-9]+]] f16[2,64,3,32] view of b[[QKV:[0-9]+]]  split
// SLICE-NEXT: b[[K:[0-9]+]] f16[2,64,3,32] view of b[[QKV]] at element 96  split
// SLICE-NEXT: b[[V:[0-9]+]] f16[2,64,3,32] view of b[[QKV]] at element 192  split
// SLICE: templates.kuai_linear_tc64_f16 {{.*}} b[[QKV]] i64:128 i64:288 i64:96 i32:0)  // linear
// SLICE-NEXT: templates.kuai_attention_tc32_f16 {{.*}} (b[[Q]] b[[K]] b[[V]] null b{{[0-9]+}} pack:2,3,3,64,64,32,32,18432,32,288,18432,32,288,18432,32,288,6144,32,96,{{.*}})  // slice+slice+slice+transpose+transpose+transpose+attention+transpose
// SLICE-NEXT: // output copy
// RUN: kuai-compile %S/Inputs/linear-reshape-add.mlir --emit=kernels | FileCheck %s --check-prefix=RESHAPED
// A residual add that reads the linear's output through a reshape (GPT-2's
// Conv1D) still goes into the epilogue.
// RESHAPED: // kernel program: 1 launches
// RESHAPED: templates.kuai_linear_tc64_f16 {{.*}} (b0 b{{[0-9]+}} b{{[0-9]+}} b1 b{{[0-9]+}} i64:128 i64:128 i64:128 i32:0)  // linear+add
// RUN: kuai-compile %S/Inputs/qkv-split.mlir --emit=kernels --no-fuse | FileCheck %s --check-prefix=SLICE-NOFUSE
// SLICE-NOFUSE-COUNT-3: // split
func.func @main(%x: tensor<2x3x4xf32> {kuai.name = "x"}) -> (tensor<2x4x3xf32> {kuai.name = "y"}) {
  %b = kuai.constant dense<[1.0, 2.0, 3.0, 4.0]> : tensor<4xf32>
  %s = kuai.add %x, %b : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3x4xf32>
  %t = kuai.transpose %s {perm = array<i64: 0, 2, 1>} : (tensor<2x3x4xf32>) -> tensor<2x4x3xf32>
  %y = kuai.tanh %t : (tensor<2x4x3xf32>) -> tensor<2x4x3xf32>
  return %y : tensor<2x4x3xf32>
}
