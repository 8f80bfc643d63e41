// RUN: kuai-opt %s -split-input-file --kuai-fuse-attention | FileCheck %s
// Pass: passes/FuseAttention.cpp

// Tests scaled dot-product attention with a transposed key, scales on both
// sides, an additive bias and the NaN guard of sdpa exports.
// CHECK-LABEL: func @sdpa
func.func @sdpa(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x8xf32>, %bias: tensor<1x1x5x5xf32>) -> tensor<1x2x5x8xf32> {
  %c = kuai.constant dense<0.5> : tensor<f32>
  %zero = kuai.constant dense<0.0> : tensor<f32>
  %qs = kuai.mul %q, %c : (tensor<1x2x5x8xf32>, tensor<f32>) -> tensor<1x2x5x8xf32>
  %kt = kuai.transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x2x5x8xf32>) -> tensor<1x2x8x5xf32>
  %ks = kuai.mul %kt, %c : (tensor<1x2x8x5xf32>, tensor<f32>) -> tensor<1x2x8x5xf32>
  %s = kuai.matmul %qs, %ks : (tensor<1x2x5x8xf32>, tensor<1x2x8x5xf32>) -> tensor<1x2x5x5xf32>
  %b = kuai.add %s, %bias : (tensor<1x2x5x5xf32>, tensor<1x1x5x5xf32>) -> tensor<1x2x5x5xf32>
  %p = kuai.softmax %b {axis = -1 : i64} : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %nan = kuai.isnan %p : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xi1>
  %g = kuai.where %nan, %zero, %p : (tensor<1x2x5x5xi1>, tensor<f32>, tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %o = kuai.matmul %g, %v : (tensor<1x2x5x5xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  // CHECK: %[[O:.*]] = kuai.attention %arg0, %arg1, %arg2, %arg3 {mask_kind = "bias", scale = 2.500000e-01 : f32}
  // CHECK-NOT: kuai.softmax
  // CHECK: return %[[O]]
  return %o : tensor<1x2x5x8xf32>
}

// -----

// Tests grouped-query attention: keys and values repeated with
// Unsqueeze/Expand/Reshape are used before repetition (2 KV heads).
// CHECK-LABEL: func @gqa
func.func @gqa(%q: tensor<1x4x5x8xf32>, %k: tensor<1x2x5x8xf32>, %v: tensor<1x2x5x8xf32>) -> tensor<1x4x5x8xf32> {
  %ax = kuai.constant dense<2> : tensor<1xi64>
  %e = kuai.constant dense<[1, 2, 2, 5, 8]> : tensor<5xi64>
  %r = kuai.constant dense<[1, 4, 5, 8]> : tensor<4xi64>
  %ku = kuai.unsqueeze %k, %ax : (tensor<1x2x5x8xf32>, tensor<1xi64>) -> tensor<1x2x1x5x8xf32>
  %ke = kuai.expand %ku, %e : (tensor<1x2x1x5x8xf32>, tensor<5xi64>) -> tensor<1x2x2x5x8xf32>
  %kr = kuai.reshape %ke, %r : (tensor<1x2x2x5x8xf32>, tensor<4xi64>) -> tensor<1x4x5x8xf32>
  %vu = kuai.unsqueeze %v, %ax : (tensor<1x2x5x8xf32>, tensor<1xi64>) -> tensor<1x2x1x5x8xf32>
  %ve = kuai.expand %vu, %e : (tensor<1x2x1x5x8xf32>, tensor<5xi64>) -> tensor<1x2x2x5x8xf32>
  %vr = kuai.reshape %ve, %r : (tensor<1x2x2x5x8xf32>, tensor<4xi64>) -> tensor<1x4x5x8xf32>
  %kt = kuai.transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<1x4x5x8xf32>) -> tensor<1x4x8x5xf32>
  %s = kuai.matmul %q, %kt : (tensor<1x4x5x8xf32>, tensor<1x4x8x5xf32>) -> tensor<1x4x5x5xf32>
  %p = kuai.softmax %s {axis = -1 : i64} : (tensor<1x4x5x5xf32>) -> tensor<1x4x5x5xf32>
  %o = kuai.matmul %p, %vr : (tensor<1x4x5x5xf32>, tensor<1x4x5x8xf32>) -> tensor<1x4x5x8xf32>
  // CHECK: kuai.attention %arg0, %arg1, %arg2, %{{.*}} {scale = 1.000000e+00 : f32} : (tensor<1x4x5x8xf32>, tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>, none)
  return %o : tensor<1x4x5x8xf32>
}

// -----

// Tests that a softmax over another axis is not attention.
// CHECK-LABEL: func @other_axis
func.func @other_axis(%q: tensor<1x2x5x8xf32>, %k: tensor<1x2x8x5xf32>, %v: tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32> {
  %s = kuai.matmul %q, %k : (tensor<1x2x5x8xf32>, tensor<1x2x8x5xf32>) -> tensor<1x2x5x5xf32>
  %p = kuai.softmax %s {axis = 2 : i64} : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %o = kuai.matmul %p, %v : (tensor<1x2x5x5xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  // CHECK-NOT: kuai.attention
  // CHECK: kuai.softmax
  return %o : tensor<1x2x5x8xf32>
}
