// RUN: kuai-opt %s -split-input-file --kuai-fuse-qkv | FileCheck %s
// Pass: passes/FuseQkv.cpp

// Tests that the q, k and v projections of one attention ([out, in]
// weights, biases) become one linear whose weight rows and bias are theirs
// in order, split into the three.
// CHECK-LABEL: func @qkv
// CHECK-DAG: %[[W:.*]] = kuai.constant dense<{{\[}}[1.000000e+00, 1.000000e+00], [1.000000e+00, 1.000000e+00], [2.000000e+00, 2.000000e+00], [2.000000e+00, 2.000000e+00], [3.000000e+00, 3.000000e+00], [3.000000e+00, 3.000000e+00]]> : tensor<6x2xf32>
// CHECK-DAG: %[[B:.*]] = kuai.constant dense<[1.000000e-01, 1.000000e-01, 2.000000e-01, 2.000000e-01, 3.000000e-01, 3.000000e-01]> : tensor<6xf32>
// CHECK: %[[QKV:.*]] = kuai.linear %arg0, %[[W]], %[[B]] {transpose_weight = true} : (tensor<1x4x2xf32>, tensor<6x2xf32>, tensor<6xf32>) -> tensor<1x4x6xf32>
// CHECK: %[[S:.*]] = kuai.constant dense<2> : tensor<3xi64>
// CHECK-NEXT: %[[P:.*]]:3 = kuai.split %[[QKV]], %[[S]] {axis = 2 : i64}
// CHECK: kuai.reshape %[[P]]#0
// CHECK: kuai.reshape %[[P]]#1
// CHECK: kuai.reshape %[[P]]#2
// CHECK-NOT: kuai.linear
func.func @qkv(%x: tensor<1x4x2xf32>) -> tensor<1x1x4x2xf32> {
  %none = kuai.none
  %wq = kuai.constant dense<1.0> : tensor<2x2xf32>
  %wk = kuai.constant dense<2.0> : tensor<2x2xf32>
  %wv = kuai.constant dense<3.0> : tensor<2x2xf32>
  %bq = kuai.constant dense<0.1> : tensor<2xf32>
  %bk = kuai.constant dense<0.2> : tensor<2xf32>
  %bv = kuai.constant dense<0.3> : tensor<2xf32>
  %shape = kuai.constant dense<[1, 4, 1, 2]> : tensor<4xi64>
  %q = kuai.linear %x, %wq, %bq {transpose_weight = true} : (tensor<1x4x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
  %k = kuai.linear %x, %wk, %bk {transpose_weight = true} : (tensor<1x4x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
  %v = kuai.linear %x, %wv, %bv {transpose_weight = true} : (tensor<1x4x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
  %q4 = kuai.reshape %q, %shape : (tensor<1x4x2xf32>, tensor<4xi64>) -> tensor<1x4x1x2xf32>
  %k4 = kuai.reshape %k, %shape : (tensor<1x4x2xf32>, tensor<4xi64>) -> tensor<1x4x1x2xf32>
  %v4 = kuai.reshape %v, %shape : (tensor<1x4x2xf32>, tensor<4xi64>) -> tensor<1x4x1x2xf32>
  %qt = kuai.transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x1x2xf32>) -> tensor<1x1x4x2xf32>
  %kt = kuai.transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x1x2xf32>) -> tensor<1x1x4x2xf32>
  %vt = kuai.transpose %v4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x4x1x2xf32>) -> tensor<1x1x4x2xf32>
  %a = kuai.attention %qt, %kt, %vt, %none {mask_kind = "causal", scale = 0.5 : f32} : (tensor<1x1x4x2xf32>, tensor<1x1x4x2xf32>, tensor<1x1x4x2xf32>, none) -> tensor<1x1x4x2xf32>
  return %a : tensor<1x1x4x2xf32>
}

// -----

// Tests [in, out] weights: each input row of the fused weight is the q row
// then the k row (the output dim is the inner one); no biases.
// CHECK-LABEL: func @in_out_layout
// CHECK: %[[W:.*]] = kuai.constant dense<{{\[}}[1.000000e+00, 2.000000e+00, 5.000000e+00, 6.000000e+00], [3.000000e+00, 4.000000e+00, 7.000000e+00, 8.000000e+00]]> : tensor<2x4xf32>
// CHECK: kuai.linear %arg0, %[[W]], %{{.*}} : (tensor<3x2xf32>, tensor<2x4xf32>, none) -> tensor<3x4xf32>
// CHECK: kuai.split
func.func @in_out_layout(%x: tensor<3x2xf32>, %v: tensor<1x1x3x2xf32>) -> tensor<1x1x3x2xf32> {
  %none = kuai.none
  %wq = kuai.constant dense<[[1.0, 2.0], [3.0, 4.0]]> : tensor<2x2xf32>
  %wk = kuai.constant dense<[[5.0, 6.0], [7.0, 8.0]]> : tensor<2x2xf32>
  %shape = kuai.constant dense<[1, 1, 3, 2]> : tensor<4xi64>
  %q = kuai.linear %x, %wq, %none : (tensor<3x2xf32>, tensor<2x2xf32>, none) -> tensor<3x2xf32>
  %k = kuai.linear %x, %wk, %none : (tensor<3x2xf32>, tensor<2x2xf32>, none) -> tensor<3x2xf32>
  %q4 = kuai.reshape %q, %shape : (tensor<3x2xf32>, tensor<4xi64>) -> tensor<1x1x3x2xf32>
  %k4 = kuai.reshape %k, %shape : (tensor<3x2xf32>, tensor<4xi64>) -> tensor<1x1x3x2xf32>
  %a = kuai.attention %q4, %k4, %v, %none {mask_kind = "none", scale = 0.5 : f32} : (tensor<1x1x3x2xf32>, tensor<1x1x3x2xf32>, tensor<1x1x3x2xf32>, none) -> tensor<1x1x3x2xf32>
  return %a : tensor<1x1x3x2xf32>
}

// -----

// Tests what stays: a projection that reaches the attention through a
// rotary (llama's q and k: the split would cost copies), and projections
// of which only one has a bias.
// CHECK-LABEL: func @left_alone
// CHECK-COUNT-3: kuai.linear
// CHECK-NOT: kuai.split
func.func @left_alone(%x: tensor<1x4x2xf32>) -> tensor<1x1x4x2xf32> {
  %none = kuai.none
  %w = kuai.constant dense<1.0> : tensor<2x2xf32>
  %b = kuai.constant dense<0.1> : tensor<2xf32>
  %shape = kuai.constant dense<[1, 1, 4, 2]> : tensor<4xi64>
  %q = kuai.linear %x, %w, %none {transpose_weight = true} : (tensor<1x4x2xf32>, tensor<2x2xf32>, none) -> tensor<1x4x2xf32>
  %k = kuai.linear %x, %w, %b {transpose_weight = true} : (tensor<1x4x2xf32>, tensor<2x2xf32>, tensor<2xf32>) -> tensor<1x4x2xf32>
  %v = kuai.linear %x, %w, %none {transpose_weight = true} : (tensor<1x4x2xf32>, tensor<2x2xf32>, none) -> tensor<1x4x2xf32>
  %q4 = kuai.reshape %q, %shape : (tensor<1x4x2xf32>, tensor<4xi64>) -> tensor<1x1x4x2xf32>
  %k4 = kuai.reshape %k, %shape : (tensor<1x4x2xf32>, tensor<4xi64>) -> tensor<1x1x4x2xf32>
  %v4 = kuai.reshape %v, %shape : (tensor<1x4x2xf32>, tensor<4xi64>) -> tensor<1x1x4x2xf32>
  %qr = kuai.rotary %q4, %none, %none, %none {inv_freq = array<f32: 1.0>} : (tensor<1x1x4x2xf32>, none, none, none) -> tensor<1x1x4x2xf32>
  %a = kuai.attention %qr, %k4, %v4, %none {mask_kind = "causal", scale = 0.5 : f32} : (tensor<1x1x4x2xf32>, tensor<1x1x4x2xf32>, tensor<1x1x4x2xf32>, none) -> tensor<1x1x4x2xf32>
  return %a : tensor<1x1x4x2xf32>
}
