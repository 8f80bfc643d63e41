// RUN: kuai-compile %s --emit=kernels | FileCheck %s
// Pass: lib/Codegen/LowerToKernels.cpp, FuseKernels.cpp, PlanMemory.cpp

// Tests one block of a decoder: templates for linear, rms_norm and
// attention, views for reshapes, generated kernels for movement and
// arithmetic, and an arena where dead buffers share bytes.
// CHECK: // kernel program: {{[0-9]+}} launches, arena {{[0-9]+}} bytes
// CHECK: input  x = b0
// CHECK: output y = b[[OUT:[0-9]+]]
// CHECK: b0 f32[2,3,16] arena @0 (384 bytes)
// CHECK: view of
// Rows of 16 elements (a multiple of 8, 16-byte aligned): the warp-per-row
// norm with 16-byte accesses.
// CHECK: templates.kuai_norm_vec_f32 <<<6/8, 1/1, 1/1 | 256x1x1>>>
// CHECK: templates.kuai_linear_f32 <<<16/64, 6/64, 1/1 | 256x1x1>>> ({{.*}} i64:6 i64:16 i64:16 i32:1)  // linear
// CHECK: generated.kuai_ew{{[0-9]+}} {{.*}}// transpose
// The output transpose folds into the attention's output strides (b, h, s)
// = (48, 4, 16); the input transpose stays (one buffer feeds q, k and v).
// CHECK: templates.kuai_attention_tiled_f32 <<<3/8, 8/1, 1/1 | 256x1x1>>> ({{.*}} pack:2,4,4,3,3,4,4,48,12,4,48,12,4,48,12,4,48,4,16,{{.*}})  // attention+transpose
// CHECK: generated.kuai_ew{{[0-9]+}} <<<96/256, {{.*}}// add
// CHECK-NOT: >>>
func.func @main(%x: tensor<2x3x16xf32> {kuai.name = "x"}) -> (tensor<2x3x16xf32> {kuai.name = "y"}) {
  %none = kuai.none
  %w = kuai.constant dense<0.5> : tensor<16xf32>
  %wq = kuai.constant dense<0.25> : tensor<16x16xf32>
  %shape4 = kuai.constant dense<[2, 3, 4, 4]> : tensor<4xi64>
  %n = kuai.rms_norm %x, %w {epsilon = 1.0e-06 : f32} : (tensor<2x3x16xf32>, tensor<16xf32>) -> tensor<2x3x16xf32>
  %q = kuai.linear %n, %wq, %none {transpose_weight = true} : (tensor<2x3x16xf32>, tensor<16x16xf32>, none) -> tensor<2x3x16xf32>
  %q4 = kuai.reshape %q, %shape4 : (tensor<2x3x16xf32>, tensor<4xi64>) -> tensor<2x3x4x4xf32>
  %qt = kuai.transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x3x4x4xf32>) -> tensor<2x4x3x4xf32>
  %a = kuai.attention %qt, %qt, %qt, %none {mask_kind = "causal", scale = 0.5 : f32} : (tensor<2x4x3x4xf32>, tensor<2x4x3x4xf32>, tensor<2x4x3x4xf32>, none) -> tensor<2x4x3x4xf32>
  %at = kuai.transpose %a {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x4x3x4xf32>) -> tensor<2x3x4x4xf32>
  %shape3 = kuai.constant dense<[2, 3, 16]> : tensor<3xi64>
  %a3 = kuai.reshape %at, %shape3 : (tensor<2x3x4x4xf32>, tensor<3xi64>) -> tensor<2x3x16xf32>
  %y = kuai.add %x, %a3 : (tensor<2x3x16xf32>, tensor<2x3x16xf32>) -> tensor<2x3x16xf32>
  return %y : tensor<2x3x16xf32>
}
