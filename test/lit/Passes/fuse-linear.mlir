// RUN: kuai-opt %s -split-input-file --kuai-fuse-linear | FileCheck %s
// Pass: passes/FuseLinear.cpp

// Tests that MatMul with a constant weight and an added 1-D bias becomes one
// linear.
// CHECK-LABEL: func @matmul_bias
func.func @matmul_bias(%x: tensor<2x5x4xf32>) -> tensor<2x5x3xf32> {
  %w = kuai.constant dense<1.0> : tensor<4x3xf32>
  %b = kuai.constant dense<[1.0, 2.0, 3.0]> : tensor<3xf32>
  // CHECK: %[[Y:.*]] = kuai.linear %arg0, %{{.*}}, %{{.*}} : (tensor<2x5x4xf32>, tensor<4x3xf32>, tensor<3xf32>) -> tensor<2x5x3xf32>
  // CHECK-NOT: kuai.matmul
  // CHECK-NOT: kuai.add
  %y = kuai.matmul %x, %w : (tensor<2x5x4xf32>, tensor<4x3xf32>) -> tensor<2x5x3xf32>
  %z = kuai.add %y, %b : (tensor<2x5x3xf32>, tensor<3xf32>) -> tensor<2x5x3xf32>
  return %z : tensor<2x5x3xf32>
}

// -----

// Tests that a transposed weight is used in place, and Gemm with transB.
// CHECK-LABEL: func @transposed
func.func @transposed(%x: tensor<6x4xf32>) -> (tensor<6x3xf32>, tensor<6x3xf32>) {
  %w = kuai.constant dense<1.0> : tensor<3x4xf32>
  %b = kuai.constant dense<0.5> : tensor<3xf32>
  %wt = kuai.transpose %w {perm = array<i64: 1, 0>} : (tensor<3x4xf32>) -> tensor<4x3xf32>
  // CHECK: kuai.linear %arg0, %{{.*}}, %{{.*}} {transpose_weight = true} : (tensor<6x4xf32>, tensor<3x4xf32>, none)
  %y = kuai.matmul %x, %wt : (tensor<6x4xf32>, tensor<4x3xf32>) -> tensor<6x3xf32>
  // CHECK: kuai.linear %arg0, %{{.*}}, %{{.*}} {transpose_weight = true} : (tensor<6x4xf32>, tensor<3x4xf32>, tensor<3xf32>)
  %g = kuai.gemm %x, %w, %b {transB = 1 : i64} : (tensor<6x4xf32>, tensor<3x4xf32>, tensor<3xf32>) -> tensor<6x3xf32>
  return %y, %g : tensor<6x3xf32>, tensor<6x3xf32>
}

// -----

// Tests that a product of two activations and a scaled Gemm are not linears.
// CHECK-LABEL: func @not_linear
func.func @not_linear(%x: tensor<6x4xf32>, %y: tensor<4x3xf32>) -> (tensor<6x3xf32>, tensor<6x3xf32>) {
  %w = kuai.constant dense<1.0> : tensor<4x3xf32>
  // CHECK: kuai.matmul %arg0, %arg1
  %a = kuai.matmul %x, %y : (tensor<6x4xf32>, tensor<4x3xf32>) -> tensor<6x3xf32>
  // CHECK: kuai.gemm
  %none = kuai.none
  %g = kuai.gemm %x, %w, %none {alpha = 5.000000e-01 : f32} : (tensor<6x4xf32>, tensor<4x3xf32>, none) -> tensor<6x3xf32>
  // CHECK-NOT: kuai.linear
  return %a, %g : tensor<6x3xf32>, tensor<6x3xf32>
}

// -----

// Tests the flatten/restore reshapes around a linear (GPT-2's Gemm on 2-D).
// CHECK-LABEL: func @through_flatten
func.func @through_flatten(%x: tensor<?x?x4xf32, #kuai.dims<batch, seq, 4>>) -> tensor<?x?x3xf32, #kuai.dims<batch, seq, 3>> {
  %w = kuai.constant dense<1.0> : tensor<4x3xf32>
  %flat = kuai.constant dense<[-1, 4]> : tensor<2xi64>
  %back = kuai.sym_tensor <batch, seq, 3> : tensor<3xi64>
  %f = kuai.reshape %x, %flat : (tensor<?x?x4xf32, #kuai.dims<batch, seq, 4>>, tensor<2xi64>) -> tensor<?x4xf32, #kuai.dims<"batch*seq", 4>>
  %y = kuai.matmul %f, %w : (tensor<?x4xf32, #kuai.dims<"batch*seq", 4>>, tensor<4x3xf32>) -> tensor<?x3xf32, #kuai.dims<"batch*seq", 3>>
  %z = kuai.reshape %y, %back : (tensor<?x3xf32, #kuai.dims<"batch*seq", 3>>, tensor<3xi64>) -> tensor<?x?x3xf32, #kuai.dims<batch, seq, 3>>
  // CHECK: %[[Y:.*]] = kuai.linear %arg0
  // CHECK-NOT: kuai.reshape
  // CHECK: return %[[Y]]
  return %z : tensor<?x?x3xf32, #kuai.dims<batch, seq, 3>>
}

// -----

// Tests that a Gather of token ids from a constant table is an embedding,
// and a Gather along another axis is not.
// CHECK-LABEL: func @embedding
func.func @embedding(%ids: tensor<2x5xi64>, %i: tensor<2xi64>) -> (tensor<2x5x8xf32>, tensor<16x2xf32>) {
  %t = kuai.constant dense<1.0> : tensor<16x8xf32>
  // CHECK: kuai.embedding
  %e = kuai.gather %t, %ids {axis = 0 : i64} : (tensor<16x8xf32>, tensor<2x5xi64>) -> tensor<2x5x8xf32>
  // CHECK: kuai.gather {{.*}} {axis = 1 : i64}
  %g = kuai.gather %t, %i {axis = 1 : i64} : (tensor<16x8xf32>, tensor<2xi64>) -> tensor<16x2xf32>
  return %e, %g : tensor<2x5x8xf32>, tensor<16x2xf32>
}
