// RUN: kuai-opt %s -split-input-file --kuai-fuse-rotary | FileCheck %s
// Pass: passes/FuseRotary.cpp

// Tests rotate-half RoPE with cos/sin given as inputs (positions supplied by
// the caller): the tables stay operands.
// CHECK-LABEL: func @rope
func.func @rope(%q: tensor<1x2x5x8xf32>, %cos: tensor<1x1x5x8xf32>, %sin: tensor<1x1x5x8xf32>) -> tensor<1x2x5x8xf32> {
  %s0 = kuai.constant dense<0> : tensor<1xi64>
  %s4 = kuai.constant dense<4> : tensor<1xi64>
  %end = kuai.constant dense<9223372036854775807> : tensor<1xi64>
  %ax = kuai.constant dense<3> : tensor<1xi64>
  %one = kuai.constant dense<1> : tensor<1xi64>
  %a = kuai.mul %q, %cos : (tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32>) -> tensor<1x2x5x8xf32>
  %x1 = kuai.slice %q, %s0, %s4, %ax, %one : (tensor<1x2x5x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x5x4xf32>
  %x2 = kuai.slice %q, %s4, %end, %ax, %one : (tensor<1x2x5x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x5x4xf32>
  %n = kuai.neg %x2 : (tensor<1x2x5x4xf32>) -> tensor<1x2x5x4xf32>
  %r = kuai.concat %n, %x1 {axis = -1 : i64} : (tensor<1x2x5x4xf32>, tensor<1x2x5x4xf32>) -> tensor<1x2x5x8xf32>
  %b = kuai.mul %r, %sin : (tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32>) -> tensor<1x2x5x8xf32>
  %y = kuai.add %a, %b : (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  // CHECK: %[[Y:.*]] = kuai.rotary %arg0, %arg1, %arg2
  // CHECK-NOT: kuai.concat
  // CHECK: return %[[Y]]
  return %y : tensor<1x2x5x8xf32>
}

// -----

// Tests that halves that do not split the width exactly are not rotary.
// CHECK-LABEL: func @mismatched_halves
func.func @mismatched_halves(%q: tensor<1x2x5x8xf32>, %cos: tensor<1x1x5x8xf32>, %sin: tensor<1x1x5x8xf32>) -> tensor<1x2x5x8xf32> {
  %s0 = kuai.constant dense<0> : tensor<1xi64>
  %s3 = kuai.constant dense<3> : tensor<1xi64>
  %end = kuai.constant dense<9223372036854775807> : tensor<1xi64>
  %ax = kuai.constant dense<3> : tensor<1xi64>
  %one = kuai.constant dense<1> : tensor<1xi64>
  %a = kuai.mul %q, %cos : (tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32>) -> tensor<1x2x5x8xf32>
  %x1 = kuai.slice %q, %s0, %s3, %ax, %one : (tensor<1x2x5x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x5x3xf32>
  %x2 = kuai.slice %q, %s3, %end, %ax, %one : (tensor<1x2x5x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<1x2x5x5xf32>
  %n = kuai.neg %x2 : (tensor<1x2x5x5xf32>) -> tensor<1x2x5x5xf32>
  %r = kuai.concat %n, %x1 {axis = -1 : i64} : (tensor<1x2x5x5xf32>, tensor<1x2x5x3xf32>) -> tensor<1x2x5x8xf32>
  %b = kuai.mul %r, %sin : (tensor<1x2x5x8xf32>, tensor<1x1x5x8xf32>) -> tensor<1x2x5x8xf32>
  %y = kuai.add %a, %b : (tensor<1x2x5x8xf32>, tensor<1x2x5x8xf32>) -> tensor<1x2x5x8xf32>
  // CHECK-NOT: kuai.rotary
  // CHECK: kuai.concat
  return %y : tensor<1x2x5x8xf32>
}
