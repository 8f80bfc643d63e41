// RUN: kuai-opt %s -split-input-file --kuai-raise-moe | FileCheck %s
// Pass: passes/RaiseMoe.cpp

// Tests the dense-masked MoE of tiny-moe, with two experts and top-1
// routing: one kuai.moe replaces router, TopK, scatter and the sum.
// CHECK-LABEL: func @moe
func.func @moe(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %none = kuai.none
  %wr = kuai.constant dense<0.1> : tensor<2x8xf32>
  %g0 = kuai.constant dense<0.2> : tensor<6x8xf32>
  %u0 = kuai.constant dense<0.3> : tensor<6x8xf32>
  %d0 = kuai.constant dense<0.4> : tensor<8x6xf32>
  %g1 = kuai.constant dense<0.5> : tensor<6x8xf32>
  %u1 = kuai.constant dense<0.6> : tensor<6x8xf32>
  %d1 = kuai.constant dense<0.7> : tensor<8x6xf32>
  %k = kuai.constant dense<1> : tensor<1xi64>
  %zeros = kuai.constant dense<0.0> : tensor<4x2xf32>
  %zacc = kuai.constant dense<0.0> : tensor<4x8xf32>
  %s0 = kuai.constant dense<0> : tensor<1xi64>
  %s1 = kuai.constant dense<1> : tensor<1xi64>
  %s2 = kuai.constant dense<2> : tensor<1xi64>
  %logits = kuai.linear %x, %wr, %none {transpose_weight = true} : (tensor<4x8xf32>, tensor<2x8xf32>, none) -> tensor<4x2xf32>
  %p = kuai.softmax %logits {axis = -1 : i64} : (tensor<4x2xf32>) -> tensor<4x2xf32>
  %v, %i = kuai.topk %p, %k {axis = -1 : i64} : (tensor<4x2xf32>, tensor<1xi64>) -> (tensor<4x1xf32>, tensor<4x1xi64>)
  %dense = kuai.scatter_elements %zeros, %i, %v {axis = -1 : i64} : (tensor<4x2xf32>, tensor<4x1xi64>, tensor<4x1xf32>) -> tensor<4x2xf32>
  %c0 = kuai.slice %dense, %s0, %s1, %s1, %none : (tensor<4x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<4x1xf32>
  %a0 = kuai.linear %x, %g0, %none {transpose_weight = true} : (tensor<4x8xf32>, tensor<6x8xf32>, none) -> tensor<4x6xf32>
  %b0 = kuai.linear %x, %u0, %none {transpose_weight = true} : (tensor<4x8xf32>, tensor<6x8xf32>, none) -> tensor<4x6xf32>
  %h0 = kuai.glu %a0, %b0 {activation = "silu"} : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
  %y0 = kuai.linear %h0, %d0, %none {transpose_weight = true} : (tensor<4x6xf32>, tensor<8x6xf32>, none) -> tensor<4x8xf32>
  %t0 = kuai.mul %c0, %y0 : (tensor<4x1xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %acc0 = kuai.add %zacc, %t0 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %c1 = kuai.slice %dense, %s1, %s2, %s1, %none : (tensor<4x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<4x1xf32>
  %a1 = kuai.linear %x, %g1, %none {transpose_weight = true} : (tensor<4x8xf32>, tensor<6x8xf32>, none) -> tensor<4x6xf32>
  %b1 = kuai.linear %x, %u1, %none {transpose_weight = true} : (tensor<4x8xf32>, tensor<6x8xf32>, none) -> tensor<4x6xf32>
  %h1 = kuai.glu %a1, %b1 {activation = "silu"} : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
  %y1 = kuai.linear %h1, %d1, %none {transpose_weight = true} : (tensor<4x6xf32>, tensor<8x6xf32>, none) -> tensor<4x8xf32>
  %t1 = kuai.mul %c1, %y1 : (tensor<4x1xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  %acc1 = kuai.add %acc0, %t1 : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK: %[[Y:.*]] = kuai.moe %arg0, {{.*}} {activation = "silu", experts_transposed = true, normalize = false, router_transposed = true, top_k = 1 : i64}
  // CHECK-NOT: kuai.topk
  // CHECK: return %[[Y]]
  return %acc1 : tensor<4x8xf32>
}

// -----

// Tests that a block where one expert is missing stays as it is.
// CHECK-LABEL: func @missing_expert
func.func @missing_expert(%x: tensor<4x8xf32>) -> tensor<4x8xf32> {
  %none = kuai.none
  %wr = kuai.constant dense<0.1> : tensor<2x8xf32>
  %g0 = kuai.constant dense<0.2> : tensor<6x8xf32>
  %u0 = kuai.constant dense<0.3> : tensor<6x8xf32>
  %d0 = kuai.constant dense<0.4> : tensor<8x6xf32>
  %k = kuai.constant dense<1> : tensor<1xi64>
  %zeros = kuai.constant dense<0.0> : tensor<4x2xf32>
  %s0 = kuai.constant dense<0> : tensor<1xi64>
  %s1 = kuai.constant dense<1> : tensor<1xi64>
  %logits = kuai.linear %x, %wr, %none {transpose_weight = true} : (tensor<4x8xf32>, tensor<2x8xf32>, none) -> tensor<4x2xf32>
  %p = kuai.softmax %logits {axis = -1 : i64} : (tensor<4x2xf32>) -> tensor<4x2xf32>
  %v, %i = kuai.topk %p, %k {axis = -1 : i64} : (tensor<4x2xf32>, tensor<1xi64>) -> (tensor<4x1xf32>, tensor<4x1xi64>)
  %dense = kuai.scatter_elements %zeros, %i, %v {axis = -1 : i64} : (tensor<4x2xf32>, tensor<4x1xi64>, tensor<4x1xf32>) -> tensor<4x2xf32>
  %c0 = kuai.slice %dense, %s0, %s1, %s1, %none : (tensor<4x2xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, none) -> tensor<4x1xf32>
  %a0 = kuai.linear %x, %g0, %none {transpose_weight = true} : (tensor<4x8xf32>, tensor<6x8xf32>, none) -> tensor<4x6xf32>
  %b0 = kuai.linear %x, %u0, %none {transpose_weight = true} : (tensor<4x8xf32>, tensor<6x8xf32>, none) -> tensor<4x6xf32>
  %h0 = kuai.glu %a0, %b0 {activation = "silu"} : (tensor<4x6xf32>, tensor<4x6xf32>) -> tensor<4x6xf32>
  %y0 = kuai.linear %h0, %d0, %none {transpose_weight = true} : (tensor<4x6xf32>, tensor<8x6xf32>, none) -> tensor<4x8xf32>
  %t0 = kuai.mul %c0, %y0 : (tensor<4x1xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  // CHECK-NOT: kuai.moe
  // CHECK: kuai.topk
  return %t0 : tensor<4x8xf32>
}
